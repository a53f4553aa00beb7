// One sync: Overview (charts, the exact Braze segment filter), Runs, Alerts, Settings; Run now, Pause /
// Resume, Delete (optionally removing its members from Braze first).
import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  Code,
  CopyButton,
  Group,
  List,
  Paper,
  SegmentedControl,
  Stack,
  Table,
  Tabs,
  TagsInput,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconPlayerPause, IconPlayerPlay, IconRefresh, IconTrash } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError, api } from '../api/client';
import { useCohort, useDestination, useServer, useSync, useSyncRuns } from '../api/queries';
import type { Cadence, Run, Sync } from '../api/types';
import { ConfirmByName } from '../components/ConfirmByName';
import { ErrorNotice, QueryState, TableSkeleton } from '../components/QueryState';
import { CADENCE, runStatusWord, StatusBadge, syncStatus } from '../components/Status';
import { Time } from '../components/Time';
import { useParam, useProjectId } from '../hooks';

const SyncCharts = lazy(() => import('../charts/SyncCharts'));

function duration(run: Run): string {
  if (!run.startedAt || !run.finishedAt) return '—';
  const ms = new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function RunsTable({ p, runs }: { p: string; runs: Run[] }) {
  return (
    <Table striped highlightOnHover aria-label="Runs">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Run</Table.Th>
          <Table.Th>Status</Table.Th>
          <Table.Th>Trigger</Table.Th>
          <Table.Th>Queued</Table.Th>
          <Table.Th>Took</Table.Th>
          <Table.Th ta="right">Added</Table.Th>
          <Table.Th ta="right">Removed</Table.Th>
          <Table.Th ta="right">Skipped</Table.Th>
          <Table.Th ta="right">Failed</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {runs.map((r) => (
          <Table.Tr key={r.id}>
            <Table.Td>
              <Anchor component={Link} to={`/p/${p}/runs/${r.id}`}>
                {r.id.slice(-8)}
              </Anchor>
            </Table.Td>
            <Table.Td>
              <StatusBadge word={runStatusWord(r)} />
            </Table.Td>
            <Table.Td>{r.trigger}</Table.Td>
            <Table.Td>
              <Time at={r.queuedAt} />
            </Table.Td>
            <Table.Td>{duration(r)}</Table.Td>
            <Table.Td ta="right">{r.counts.added.toLocaleString()}</Table.Td>
            <Table.Td ta="right">{r.counts.removed.toLocaleString()}</Table.Td>
            <Table.Td ta="right">{r.counts.skipped.toLocaleString()}</Table.Td>
            <Table.Td ta="right">{r.counts.failed.toLocaleString()}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function AlertsTab({ p, sync }: { p: string; sync: Sync }) {
  const qc = useQueryClient();
  const [emails, setEmails] = useState<string[]>(sync.notifyEmails);
  const save = useMutation({
    mutationFn: () => api(`/projects/${p}/syncs/${sync.id}`, { method: 'PATCH', body: { notifyEmails: emails } }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['syncs', p] });
      notifications.show({ color: 'green', message: 'Recipients saved' });
    },
  });
  const error = save.error instanceof ApiError ? save.error.message : null;
  return (
    <Stack maw={640}>
      <Text size="sm">
        Besides the project's recipients (Settings), these people are mailed about this sync: a failure at once (a
        persisting one again at most every few hours), a recovery at once, and successes (real-time runs folded into a
        digest).
      </Text>
      <TagsInput
        label="Notification recipients"
        placeholder="name@example.com, then Enter"
        value={emails}
        onChange={setEmails}
        error={error}
      />
      <Group>
        <Button onClick={() => save.mutate()} loading={save.isPending}>
          Save
        </Button>
      </Group>
    </Stack>
  );
}

function SettingsTab({ p, sync }: { p: string; sync: Sync }) {
  const qc = useQueryClient();
  const [cadence, setCadence] = useState<Cadence>(sync.cadence);
  const [cron, setCron] = useState(sync.cron ?? '');
  const save = useMutation({
    mutationFn: () =>
      api(`/projects/${p}/syncs/${sync.id}`, {
        method: 'PATCH',
        body: cadence === 'cron' ? { cadence, cron: cron.trim() } : { cadence },
      }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['syncs', p] });
      notifications.show({ color: 'green', message: 'Cadence saved' });
    },
  });
  const cronError = save.error instanceof ApiError ? (save.error.fieldErrors().cron ?? save.error.message) : null;
  return (
    <Stack maw={640}>
      <SegmentedControl
        aria-label="Cadence"
        value={cadence}
        onChange={(v) => setCadence(v as Cadence)}
        data={Object.entries(CADENCE).map(([value, label]) => ({ value, label }))}
      />
      {cadence === 'cron' ? (
        <TextInput
          label="Cron expression (UTC)"
          value={cron}
          onChange={(e) => setCron(e.currentTarget.value)}
          error={cronError}
        />
      ) : null}
      <Group>
        <Button onClick={() => save.mutate()} loading={save.isPending}>
          Save
        </Button>
      </Group>
    </Stack>
  );
}

export function SyncPage() {
  const p = useProjectId();
  const s = useParam('syncId');
  const sync = useSync(p, s);
  const runs = useSyncRuns(p, s);
  const cohort = useCohort(p, sync.data?.cohortId ?? '');
  const destination = useDestination(p);
  const server = useServer();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState(false);
  const [removeMembers, setRemoveMembers] = useState(false);
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ['syncs', p] });
    void qc.invalidateQueries({ queryKey: ['runs', p, s] });
  };
  const runNow = useMutation({
    mutationFn: () => api<Run>(`/projects/${p}/syncs/${s}/runs`, { method: 'POST' }),
    onSuccess: refresh,
    onError: (e) => notifications.show({ color: 'red', message: (e as Error).message }),
  });
  const pause = useMutation({
    mutationFn: (paused: boolean) => api(`/projects/${p}/syncs/${s}`, { method: 'PATCH', body: { paused } }),
    onSuccess: refresh,
    onError: (e) => notifications.show({ color: 'red', message: (e as Error).message }),
  });
  const remove = useMutation({
    mutationFn: () =>
      api(`/projects/${p}/syncs/${s}${removeMembers ? '?removeMembers=true' : ''}`, { method: 'DELETE' }),
    onSuccess: () => {
      // Leave first: this page's queries must not ask for the sync once it is gone.
      navigate(`/p/${p}/syncs`);
      void qc.invalidateQueries({ queryKey: ['syncs', p], exact: true });
      notifications.show({
        message: removeMembers
          ? 'The sync is paused and its members are being removed from Braze; it disappears when that run succeeds.'
          : 'Sync deleted',
      });
    },
  });
  const target = destination.data?.targets.find((t) => t.id === sync.data?.targetId);
  const cohortName = cohort.data?.name ?? '…';
  const title = `${cohortName} → ${target?.name ?? '…'}`;
  const onSandbox = Boolean(server.data?.sandbox && target?.endpoint === server.data.sandbox.url);
  const fallbackFilter = cohort.data
    ? `${server.data?.sandbox?.partner ?? 'Amplitude'} Cohorts includes [${server.data?.cohortNamePrefix ?? 'cohort-sync'}] ${cohort.data.name}: ${cohort.data.id}`
    : '';
  return (
    <QueryState query={sync}>
      {(sy) => (
        <Stack>
          <Group justify="space-between" align="flex-start">
            <Stack gap={4}>
              <Anchor component={Link} to={`/p/${p}/syncs`} size="sm">
                Syncs
              </Anchor>
              <Group gap="sm">
                <Title order={2}>{title}</Title>
                <StatusBadge word={syncStatus(sy)} />
              </Group>
              <Text size="sm">
                {CADENCE[sy.cadence]}
                {sy.cron ? ` (${sy.cron})` : ''} · next run{' '}
                {sy.paused ? 'none (paused)' : <Time at={sy.nextRunAt} fallback="none" />}
              </Text>
            </Stack>
            <Group>
              <Button
                leftSection={<IconRefresh size={16} />}
                onClick={() => runNow.mutate()}
                loading={runNow.isPending}
                disabled={sy.paused}
              >
                Run now
              </Button>
              {sy.paused ? (
                <Button
                  variant="light"
                  leftSection={<IconPlayerPlay size={16} />}
                  onClick={() => pause.mutate(false)}
                  loading={pause.isPending}
                >
                  Resume
                </Button>
              ) : (
                <Button
                  variant="light"
                  leftSection={<IconPlayerPause size={16} />}
                  onClick={() => pause.mutate(true)}
                  loading={pause.isPending}
                >
                  Pause
                </Button>
              )}
              <Button
                variant="default"
                color="red"
                leftSection={<IconTrash size={16} />}
                onClick={() => setDeleting(true)}
              >
                Delete
              </Button>
            </Group>
          </Group>
          {sy.lastRun?.status === 'failed' && sy.lastRun.error ? (
            <Alert color="red" title="The last run failed">
              {sy.lastRun.error.message}{' '}
              <Anchor component={Link} to={`/p/${p}/runs/${sy.lastRun.id}`}>
                Open the run
              </Anchor>
            </Alert>
          ) : null}
          <Tabs defaultValue="overview" keepMounted={false}>
            <Tabs.List>
              <Tabs.Tab value="overview">Overview</Tabs.Tab>
              <Tabs.Tab value="runs">Runs</Tabs.Tab>
              <Tabs.Tab value="alerts">Alerts</Tabs.Tab>
              <Tabs.Tab value="settings">Settings</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="overview" pt="md">
              <Stack>
                <Paper withBorder p="md">
                  <Title order={3} size="h5" mb="xs">
                    Use the cohort in Braze
                  </Title>
                  <List type="ordered" size="sm" spacing={4}>
                    <List.Item>In Braze, open Audience → Segments and click Create Segment.</List.Item>
                    <List.Item>
                      Under Add Filter, build exactly this filter:{' '}
                      <CopyButton value={sy.brazeFilter ?? fallbackFilter}>
                        {({ copied, copy }) => (
                          <Code
                            onClick={copy}
                            style={{ cursor: 'copy' }}
                            title={copied ? 'Copied' : 'Click to copy'}
                            data-testid="braze-filter"
                          >
                            {sy.brazeFilter ?? fallbackFilter}
                          </Code>
                        )}
                      </CopyButton>
                    </List.Item>
                    <List.Item>Save it and target the segment in a Canvas or campaign.</List.Item>
                  </List>
                  {onSandbox ? (
                    <Anchor component={Link} to={`/p/${p}/syncs/${s}/sandbox`} size="sm" mt="xs" display="inline-block">
                      See the sandbox's view of this cohort
                    </Anchor>
                  ) : null}
                </Paper>
                <QueryState query={runs} skeleton={<TableSkeleton rows={4} />}>
                  {(r) =>
                    r.items.length === 0 ? (
                      <Text c="dimmed">No runs yet.</Text>
                    ) : (
                      <Suspense fallback={<TableSkeleton rows={4} />}>
                        <SyncCharts runs={r.items} />
                      </Suspense>
                    )
                  }
                </QueryState>
              </Stack>
            </Tabs.Panel>
            <Tabs.Panel value="runs" pt="md">
              <QueryState query={runs}>{(r) => <RunsTable p={p} runs={r.items} />}</QueryState>
            </Tabs.Panel>
            <Tabs.Panel value="alerts" pt="md">
              <AlertsTab p={p} sync={sy} />
            </Tabs.Panel>
            <Tabs.Panel value="settings" pt="md">
              <SettingsTab p={p} sync={sy} />
            </Tabs.Panel>
          </Tabs>
          <ConfirmByName
            opened={deleting}
            title={`Delete sync ${title}`}
            name={cohortName}
            action="Delete sync"
            busy={remove.isPending}
            onConfirm={() => remove.mutate()}
            onClose={() => {
              setDeleting(false);
              remove.reset();
            }}
          >
            <Checkbox
              label="Also remove from Braze"
              description="Removes this sync's members from the Braze cohort first (members other syncs still want stay)"
              checked={removeMembers}
              onChange={(e) => setRemoveMembers(e.currentTarget.checked)}
            />
            {remove.isError ? <ErrorNotice error={remove.error} /> : null}
          </ConfirmByName>
        </Stack>
      )}
    </QueryState>
  );
}
