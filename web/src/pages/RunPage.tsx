// One run: summary (users and identifiers), the error with its fix, Users (searchable per-member outcome),
// Requests (request/response JSON in a drawer, keys redacted by the server), CSV download.
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Drawer,
  Group,
  Paper,
  Progress,
  ScrollArea,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Tabs,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconDownload, IconSearch } from '@tabler/icons-react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, qs } from '../api/client';
import { useDestination, useRun, useSync } from '../api/queries';
import type { Page, Run, RunMember, RunRequest } from '../api/types';
import { ErrorNotice, QueryState } from '../components/QueryState';
import { runStatusWord, StatusBadge } from '../components/Status';
import { Time } from '../components/Time';
import { fixFor } from '../fixes';
import { useParam, useProjectId } from '../hooks';
import { useSession } from '../session';

function Stat({ label, value, hint }: { label: string; value: number; hint?: string }) {
  return (
    <Paper withBorder p="sm">
      <Text size="xs" c="dimmed" tt="uppercase">
        {label}
      </Text>
      <Text fw={700} size="xl" data-testid={`stat-${label.toLowerCase()}`}>
        {value.toLocaleString()}
      </Text>
      {hint ? (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      ) : null}
    </Paper>
  );
}

function UsersTab({ p, run }: { p: string; run: Run }) {
  const [q, setQ] = useState('');
  const [outcome, setOutcome] = useState<string | null>(null);
  const [debounced] = useDebouncedValue(q, 250);
  const members = useQuery({
    queryKey: ['run-members', p, run.id, debounced, outcome, run.status],
    queryFn: () =>
      api<Page<RunMember>>(`/projects/${p}/runs/${run.id}/members${qs({ q: debounced, outcome, limit: 200 })}`),
    placeholderData: keepPreviousData,
  });
  return (
    <Stack>
      <Group>
        <TextInput
          aria-label="Search users"
          placeholder="Search user_id or device_id"
          leftSection={<IconSearch size={16} />}
          value={q}
          onChange={(e) => setQ(e.currentTarget.value)}
          w={280}
        />
        <Select
          aria-label="Outcome"
          placeholder="Any outcome"
          data={['acked', 'failed', 'pending', 'skipped']}
          value={outcome}
          onChange={setOutcome}
          clearable
          w={160}
        />
      </Group>
      <QueryState query={members}>
        {(m) => (
          <Table striped aria-label="Users">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>user_id</Table.Th>
                <Table.Th>device_id</Table.Th>
                <Table.Th>Operation</Table.Th>
                <Table.Th>Identifier sent</Table.Th>
                <Table.Th>Outcome</Table.Th>
                <Table.Th>Reason</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {m.items.map((x) => (
                <Table.Tr
                  key={`${x.member.user_id}|${x.member.device_id}|${x.operation}|${x.identifier?.kind}:${x.identifier?.value}`}
                >
                  <Table.Td>{x.member.user_id ?? '—'}</Table.Td>
                  <Table.Td>{x.member.device_id ?? '—'}</Table.Td>
                  <Table.Td>{x.operation}</Table.Td>
                  <Table.Td>{x.identifier ? `${x.identifier.kind} ${x.identifier.value}` : '—'}</Table.Td>
                  <Table.Td>
                    <Badge
                      variant="light"
                      color={x.outcome === 'acked' ? 'green' : x.outcome === 'failed' ? 'red' : 'gray'}
                    >
                      {x.outcome}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{x.reason ?? ''}</Table.Td>
                </Table.Tr>
              ))}
              {m.items.length === 0 ? (
                <Table.Tr>
                  <Table.Td colSpan={6}>No users match.</Table.Td>
                </Table.Tr>
              ) : null}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Stack>
  );
}

function RequestsTab({ p, run }: { p: string; run: Run }) {
  const requests = useQuery({
    queryKey: ['run-requests', p, run.id, run.status],
    queryFn: () => api<Page<RunRequest>>(`/projects/${p}/runs/${run.id}/requests?limit=200`),
  });
  const [open, setOpen] = useState<RunRequest | null>(null);
  return (
    <>
      <QueryState query={requests}>
        {(r) => (
          <Table striped highlightOnHover aria-label="Requests">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>At</Table.Th>
                <Table.Th>Endpoint</Table.Th>
                <Table.Th ta="right">Identifiers</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th ta="right">Latency</Table.Th>
                <Table.Th>Attempt</Table.Th>
                <Table.Th aria-label="Open" />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {r.items.map((x) => (
                <Table.Tr key={`${x.at}|${x.endpoint}|${x.attempt}`}>
                  <Table.Td>
                    <Time at={x.at} />
                  </Table.Td>
                  <Table.Td>
                    <Code>{x.endpoint}</Code>
                  </Table.Td>
                  <Table.Td ta="right">{x.identifiers}</Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={x.status && x.status < 300 ? 'green' : 'red'}>
                      {x.status ?? 'no answer'}
                    </Badge>
                  </Table.Td>
                  <Table.Td ta="right">{x.latencyMs} ms</Table.Td>
                  <Table.Td>{x.attempt}</Table.Td>
                  <Table.Td>
                    <Button size="compact-xs" variant="light" onClick={() => setOpen(x)}>
                      Show JSON
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
              {r.items.length === 0 ? (
                <Table.Tr>
                  <Table.Td colSpan={7}>No requests were made.</Table.Td>
                </Table.Tr>
              ) : null}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
      <Drawer
        opened={open !== null}
        onClose={() => setOpen(null)}
        position="right"
        size="lg"
        title="Request and response"
      >
        {open ? (
          <Stack>
            <Text size="sm" fw={500}>
              Request (keys hidden)
            </Text>
            <ScrollArea.Autosize mah={300}>
              <Code block>{JSON.stringify(open.request, null, 2)}</Code>
            </ScrollArea.Autosize>
            <Text size="sm" fw={500}>
              Response ({open.status ?? 'no answer'})
            </Text>
            <ScrollArea.Autosize mah={300}>
              <Code block>{JSON.stringify(open.response, null, 2)}</Code>
            </ScrollArea.Autosize>
          </Stack>
        ) : null}
      </Drawer>
    </>
  );
}

export function RunPage() {
  const p = useProjectId();
  const r = useParam('runId');
  const run = useRun(p, r);
  const sync = useSync(p, run.data?.syncId ?? '');
  const destination = useDestination(p);
  const { token } = useSession();
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const target = destination.data?.targets.find((t) => t.id === sync.data?.targetId);
  const download = async () => {
    setDownloadError(null);
    try {
      const res = await fetch(`/api/v1/projects/${p}/runs/${r}/members.csv`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (!res.ok) throw new Error(`download failed: ${res.status}`);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `run-${r}-members.csv`;
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setDownloadError(e);
    }
  };
  return (
    <QueryState query={run}>
      {(ru) => {
        const fix = ru.error ? fixFor(ru.error.code, target?.name ?? 'this target', target?.delivery) : null;
        return (
          <Stack>
            <Group justify="space-between" align="flex-start">
              <Stack gap={4}>
                {sync.data ? (
                  <Anchor component={Link} to={`/p/${p}/syncs/${ru.syncId}`} size="sm">
                    Back to the sync
                  </Anchor>
                ) : null}
                <Group gap="sm">
                  <Title order={2}>Run {ru.id.slice(-8)}</Title>
                  <StatusBadge word={runStatusWord(ru)} />
                </Group>
                <Text size="sm">
                  {ru.trigger} · {ru.mode} · queued <Time at={ru.queuedAt} /> · finished{' '}
                  <Time at={ru.finishedAt} fallback="not yet" />
                </Text>
              </Stack>
              <Button variant="light" leftSection={<IconDownload size={16} />} onClick={() => void download()}>
                Download CSV
              </Button>
            </Group>
            {downloadError ? <ErrorNotice error={downloadError} /> : null}
            {ru.error ? (
              <Alert color="red" title={ru.error.message} role="alert">
                {fix ? <Text size="sm">{fix}</Text> : null}
                {target ? (
                  <Anchor component={Link} to={`/p/${p}/destinations/braze`} size="sm">
                    Open the Braze destination
                  </Anchor>
                ) : null}
              </Alert>
            ) : null}
            {ru.status === 'running' || ru.status === 'queued' ? (
              <Progress
                value={ru.progress.total ? (100 * ru.progress.done) / ru.progress.total : 5}
                animated
                aria-label="Progress"
              />
            ) : null}
            <SimpleGrid cols={6}>
              <Stat
                label="Added"
                value={ru.counts.added}
                hint={ru.identifiers ? `${ru.identifiers.added} identifiers` : 'users'}
              />
              <Stat
                label="Removed"
                value={ru.counts.removed}
                hint={ru.identifiers ? `${ru.identifiers.removed} identifiers` : 'users'}
              />
              <Stat label="Skipped" value={ru.counts.skipped} hint="users" />
              <Stat label="Failed" value={ru.counts.failed} hint="users" />
              <Stat label="Requests" value={ru.requests} />
              <Stat label="Retries" value={ru.retries} />
            </SimpleGrid>
            {Object.keys(ru.skipReasons).length ? (
              <Text size="sm">
                Skipped because:{' '}
                {Object.entries(ru.skipReasons)
                  .map(([k, v]) => `${k} (${v})`)
                  .join(', ')}
              </Text>
            ) : null}
            <Tabs defaultValue="users" keepMounted={false}>
              <Tabs.List>
                <Tabs.Tab value="users">Users</Tabs.Tab>
                <Tabs.Tab value="requests">Requests</Tabs.Tab>
              </Tabs.List>
              <Tabs.Panel value="users" pt="md">
                <UsersTab p={p} run={ru} />
              </Tabs.Panel>
              <Tabs.Panel value="requests" pt="md">
                <RequestsTab p={p} run={ru} />
              </Tabs.Panel>
            </Tabs>
          </Stack>
        );
      }}
    </QueryState>
  );
}
