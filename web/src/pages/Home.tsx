// "/": the caller's project, or for the admin the first project (or the projects page when there is none).
import { Center, Loader } from '@mantine/core';
import { Navigate } from 'react-router';
import { useProjects } from '../api/queries';
import { ErrorNotice } from '../components/QueryState';
import { useSession } from '../session';

export function Home() {
  const { who } = useSession();
  const projects = useProjects();
  if (who?.kind === 'project' && who.projectId) return <Navigate to={`/p/${who.projectId}/syncs`} replace />;
  if (projects.isError) return <ErrorNotice error={projects.error} onRetry={() => void projects.refetch()} />;
  if (!projects.data)
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  const first = projects.data.items[0];
  return <Navigate to={first ? `/p/${first.id}/syncs` : '/projects'} replace />;
}
