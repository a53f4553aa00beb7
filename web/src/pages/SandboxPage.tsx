// Sandbox mode: what the built-in Braze sandbox holds for each synced cohort, in Braze's own terms, and which
// members matched a Braze profile — the end of the flow without a Braze account.
import { Alert, Anchor, Badge, Code, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { useCohorts, useDestination, useSandboxView, useServer, useSync, useSyncs } from '../api/queries';
import { QueryState } from '../components/QueryState';
import { useParam, useProjectId } from '../hooks';

export function SandboxIndex() {
  const p = useProjectId();
  const server = useServer();
  const syncs = useSyncs(p);
  const destination = useDestination(p);
  const cohorts = useCohorts(p);
  const sandboxUrl = server.data?.sandbox?.url;
  const onSandbox = new Set(
    (destination.data?.targets ?? []).filter((t) => t.endpoint === sandboxUrl).map((t) => t.id),
  );
  const mine = (syncs.data?.items ?? []).filter((s) => onSandbox.has(s.targetId));
  const name = (id: string) => cohorts.data?.items.find((c) => c.id === id)?.name ?? id;
  const target = (id: string) => destination.data?.targets.find((t) => t.id === id)?.name ?? id;
  return (
    <Stack>
      <Title order={2}>Sandbox</Title>
      {sandboxUrl ? (
        <Text>
          The built-in Braze sandbox at <Code>{sandboxUrl}</Code> answers like Braze. Targets whose REST endpoint is the
          sandbox send there; "Create a sandbox key" in Add Another Key gives a Data Import Key for it.
        </Text>
      ) : (
        <Alert color="gray">This server runs without the Braze sandbox.</Alert>
      )}
      <QueryState query={syncs}>
        {() =>
          mine.length === 0 ? (
            <Text c="dimmed">No sync sends to the sandbox yet.</Text>
          ) : (
            <Table striped aria-label="Syncs to the sandbox">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Sync</Table.Th>
                  <Table.Th aria-label="View" />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {mine.map((s) => (
                  <Table.Tr key={s.id}>
                    <Table.Td>
                      {name(s.cohortId)} → {target(s.targetId)}
                    </Table.Td>
                    <Table.Td>
                      <Anchor component={Link} to={`/p/${p}/syncs/${s.id}/sandbox`}>
                        What Braze shows
                      </Anchor>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryState>
    </Stack>
  );
}

export function SandboxPage() {
  const p = useProjectId();
  const s = useParam('syncId');
  const view = useSandboxView(p, s);
  // The sync's own words for the filter when the API gives them (api.md Sync.brazeFilter).
  const sync = useSync(p, s);
  return (
    <Stack>
      <Anchor component={Link} to={`/p/${p}/syncs/${s}`} size="sm">
        Back to the sync
      </Anchor>
      <Title order={2}>What Braze shows (sandbox)</Title>
      <QueryState query={view}>
        {(v) => (
          <Stack>
            {!v.workspace ? (
              <Alert color="orange">
                The sandbox never issued this target's Data Import Key, so Braze would refuse it. Use "Create a sandbox
                key" when adding a target.
              </Alert>
            ) : null}
            <Paper withBorder p="md">
              <Text size="sm">In Braze's segment builder, the filter</Text>
              <Code block data-testid="sandbox-filter">
                {sync.data?.brazeFilter ?? v.filter}
              </Code>
              <Text size="sm" mt="xs">
                matches <strong>{v.segmentSize.toLocaleString()}</strong> profile{v.segmentSize === 1 ? '' : 's'}.
              </Text>
            </Paper>
            <SimpleGrid cols={4}>
              <Paper withBorder p="sm">
                <Text size="xs" c="dimmed">
                  Cohort members
                </Text>
                <Text fw={700}>{v.cohortSize.toLocaleString()}</Text>
              </Paper>
              <Paper withBorder p="sm">
                <Text size="xs" c="dimmed">
                  External ids received
                </Text>
                <Text fw={700}>{v.received.user_ids.toLocaleString()}</Text>
              </Paper>
              <Paper withBorder p="sm">
                <Text size="xs" c="dimmed">
                  Device ids received
                </Text>
                <Text fw={700}>{v.received.device_ids.toLocaleString()}</Text>
              </Paper>
              <Paper withBorder p="sm">
                <Text size="xs" c="dimmed">
                  Aliases received
                </Text>
                <Text fw={700}>{v.received.aliases.toLocaleString()}</Text>
              </Paper>
            </SimpleGrid>
            <Text size="sm" c="dimmed">
              Braze matches only users it already has: a member without a Braze profile is received but is not in the
              segment.
            </Text>
            <Table striped aria-label="Members and Braze profiles">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>user_id</Table.Th>
                  <Table.Th>device ids</Table.Th>
                  <Table.Th>Sent as</Table.Th>
                  <Table.Th>Braze profile</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {v.members.map((m) => (
                  <Table.Tr key={`${m.user_id}|${m.device_ids.join(',')}`}>
                    <Table.Td>{m.user_id ?? '—'}</Table.Td>
                    <Table.Td>{m.device_ids.join(', ') || '—'}</Table.Td>
                    <Table.Td>{m.identifier ?? 'skipped'}</Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        <Badge color={m.matched ? 'green' : 'gray'} variant="light">
                          {m.matched ? 'matched' : 'no match'}
                        </Badge>
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
