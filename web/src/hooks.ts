import { useParams } from 'react-router';

/** The project of the current page (every project page is under /p/:projectId). */
export function useProjectId(): string {
  const { projectId } = useParams();
  if (!projectId) throw new Error('no project in the URL');
  return projectId;
}

export function useParam(name: string): string {
  const value = useParams()[name];
  if (!value) throw new Error(`no ${name} in the URL`);
  return value;
}
