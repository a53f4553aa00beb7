// The app shell: header with the project switcher, sandbox banner and sign out; left navigation per project.
import { Alert, Anchor, AppShell, Button, Group, NavLink, ScrollArea, Select, Text, Title } from '@mantine/core';
import {
  IconBox,
  IconFlask,
  IconHelpCircle,
  IconLogout,
  IconRefresh,
  IconSettings,
  IconUsersGroup,
} from '@tabler/icons-react';
import { Link, Navigate, Outlet, useLocation, useNavigate, useParams } from 'react-router';
import { useProjects, useServer } from '../api/queries';
import { useSession } from '../session';

export function RequireSession() {
  const { token } = useSession();
  const location = useLocation();
  if (!token) return <Navigate to="/sign-in" replace state={{ from: location.pathname + location.search }} />;
  return <Outlet />;
}

function ProjectSwitcher({ current }: { current: string | undefined }) {
  const { who } = useSession();
  const projects = useProjects();
  const navigate = useNavigate();
  const items = projects.data?.items ?? [];
  if (who?.kind !== 'admin') {
    const p = items.find((i) => i.id === current);
    return p ? <Text fw={500}>{p.name}</Text> : null;
  }
  return (
    <Group gap="xs" wrap="nowrap">
      <Select
        aria-label="Project"
        placeholder="Choose a project"
        data={items.map((p) => ({ value: p.id, label: p.name }))}
        value={current ?? null}
        onChange={(value) => value && navigate(`/p/${value}/syncs`)}
        w={220}
        allowDeselect={false}
        searchable
      />
      <Button component={Link} to="/projects" variant="subtle" size="compact-sm">
        Projects
      </Button>
    </Group>
  );
}

const NAV = [
  { to: 'catalog', label: 'Catalog', icon: IconBox, also: ['destinations'] },
  { to: 'cohorts', label: 'Cohorts', icon: IconUsersGroup, also: [] },
  { to: 'syncs', label: 'Syncs', icon: IconRefresh, also: ['runs'] },
  { to: 'explain', label: 'Explain a user', icon: IconHelpCircle, also: [] },
  { to: 'settings', label: 'Settings', icon: IconSettings, also: [] },
];

export function Shell() {
  const { projectId } = useParams();
  const { signOut } = useSession();
  const server = useServer();
  const location = useLocation();
  const section = location.pathname.split('/')[3] ?? '';
  const sandbox = server.data?.sandbox;
  return (
    <AppShell header={{ height: sandbox ? 92 : 56 }} navbar={{ width: 210, breakpoint: 0 }} padding="md">
      <AppShell.Header>
        {sandbox ? (
          <Alert color="yellow" radius={0} py={6} icon={<IconFlask size={16} />} styles={{ message: { fontSize: 13 } }}>
            Sandbox mode: syncs to the REST endpoint {sandbox.url} go to the built-in Braze sandbox, not Braze.{' '}
            {projectId ? (
              <Anchor component={Link} to={`/p/${projectId}/sandbox`} size="sm">
                See what the sandbox holds
              </Anchor>
            ) : null}
          </Alert>
        ) : null}
        <Group h={56} px="md" justify="space-between" wrap="nowrap">
          <Group gap="lg" wrap="nowrap">
            <Title order={1} size="h4">
              cohort-sync
            </Title>
            <ProjectSwitcher current={projectId} />
          </Group>
          <Button variant="default" leftSection={<IconLogout size={16} />} onClick={() => signOut()}>
            Sign out
          </Button>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <ScrollArea>
          {projectId ? (
            <>
              {NAV.map((n) => (
                <NavLink
                  key={n.to}
                  component={Link}
                  to={`/p/${projectId}/${n.to}`}
                  label={n.label}
                  leftSection={<n.icon size={18} />}
                  active={section === n.to || n.also.includes(section)}
                />
              ))}
              {sandbox ? (
                <NavLink
                  component={Link}
                  to={`/p/${projectId}/sandbox`}
                  label="Sandbox"
                  leftSection={<IconFlask size={18} />}
                  active={section === 'sandbox'}
                />
              ) : null}
            </>
          ) : (
            <Text size="sm" c="dimmed" p="xs">
              Choose or create a project.
            </Text>
          )}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
