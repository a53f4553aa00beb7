// A cohort: how Braze will name it, its definition, size over time, syncs, members, and the Sync button.
import { Anchor, Badge, Button, Code, Group, Stack, Table, Tabs, Text, Title } from '@mantine/core';
import { IconRefresh, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError, api } from '../api/client';
import { useCohort, useDestination, useMembers, useServer, useSyncs } from '../api/queries';
import { ConfirmByName } from '../components/ConfirmByName';
import { ErrorNotice, QueryState, TableSkeleton } from '../components/QueryState';
import { CADENCE, StatusBadge, syncStatus } from '../components/Status';
import { Time } from '../components/Time';
import { describeDefinition } from '../definition';
import { useParam, useProjectId } from '../hooks';

const SizeChart = lazy(() => import('../charts/SizeChart'));

function SizeHistory({ p, c }: { p: string; c: string }) {
  const history = useQuery({
    queryKey: ['size-history', p, c],
    queryFn: () => api<{ points: { at: string; size: number }[] }>(`/projects/${p}/cohorts/${c}/size-history`),
    retry: false,
  });
  if (history.error instanceof ApiError && history.error.status === 404)
    return <Text c="dimmed">Size history is kept for cohorts built from rules.</Text>;
  return (
    <QueryState query={history}>
      {(d) =>
        d.points.length === 0 ? (
          <Text c="dimmed">No size recorded yet.</Text>
        ) : (
          <Suspense fallback={<TableSkeleton rows={3} />}>
            <SizeChart points={d.points} />
          </Suspense>
        )
      }
    </QueryState>
  );
}

export function CohortPage() {
  const p = useProjectId();
  const c = useParam('cohortId');
  const cohort = useCohort(p, c);
  const server = useServer();
  const syncs = useSyncs(p);
  const destination = useDestination(p);
  const members = useMembers(p, c);
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState(false);
  const remove = useMutation({
    mutationFn: () => api(`/projects/${p}/cohorts/${c}`, { method: 'DELETE' }),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['cohorts', p] });
      navigate(`/p/${p}/cohorts`);
    },
  });
  const mine = (syncs.data?.items ?? []).filter((s) => s.cohortId === c);
  const targetName = (id: string) => destination.data?.targets.find((t) => t.id === id)?.name ?? id;
  return (
    <QueryState query={cohort}>
      {(co) => (
        <Stack>
          <Group justify="space-between" align="flex-start">
            <Stack gap={4}>
              <Anchor component={Link} to={`/p/${p}/cohorts`} size="sm">
                Cohorts
              </Anchor>
              <Group gap="sm">
                <Title order={2}>{co.name}</Title>
                <Badge variant="light" color={co.type === 'static' ? 'gray' : 'grape'}>
                  {co.type === 'static' ? 'CSV / API' : 'Rules'}
                </Badge>
              </Group>
              <Text size="sm">
                {co.size.toLocaleString()} members · last computed <Time at={co.updatedAt} />
              </Text>
              <Text size="sm">
                Appears in Braze as{' '}
                <Code>{`[${server.data?.cohortNamePrefix ?? 'cohort-sync'}] ${co.name}: ${co.id}`}</Code>
              </Text>
            </Stack>
            <Group>
              <Button leftSection={<IconRefresh size={16} />} onClick={() => navigate(`/p/${p}/cohorts/${c}/sync`)}>
                Sync
              </Button>
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
          <Tabs defaultValue="definition" keepMounted={false}>
            <Tabs.List>
              <Tabs.Tab value="definition">Definition</Tabs.Tab>
              <Tabs.Tab value="size">Size over time</Tabs.Tab>
              <Tabs.Tab value="syncs">Syncs ({mine.length})</Tabs.Tab>
              <Tabs.Tab value="members">Members</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="definition" pt="md">
              {co.type === 'behavioral' ? (
                <Text aria-label="Definition">{describeDefinition(co.definition)}</Text>
              ) : (
                <Text>A list of users uploaded as CSV or changed through the API.</Text>
              )}
            </Tabs.Panel>
            <Tabs.Panel value="size" pt="md">
              <SizeHistory p={p} c={c} />
            </Tabs.Panel>
            <Tabs.Panel value="syncs" pt="md">
              {mine.length === 0 ? (
                <Text>Not synced anywhere yet. Click Sync to send it to Braze.</Text>
              ) : (
                <Table aria-label="Syncs of this cohort">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Target</Table.Th>
                      <Table.Th>Cadence</Table.Th>
                      <Table.Th>Status</Table.Th>
                      <Table.Th>Last run</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {mine.map((s) => (
                      <Table.Tr key={s.id}>
                        <Table.Td>
                          <Anchor component={Link} to={`/p/${p}/syncs/${s.id}`}>
                            {targetName(s.targetId)}
                          </Anchor>
                        </Table.Td>
                        <Table.Td>{CADENCE[s.cadence]}</Table.Td>
                        <Table.Td>
                          <StatusBadge word={syncStatus(s)} />
                        </Table.Td>
                        <Table.Td>
                          <Time at={s.lastRun?.finishedAt ?? s.lastRun?.queuedAt} />
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
            </Tabs.Panel>
            <Tabs.Panel value="members" pt="md">
              <QueryState query={members}>
                {(m) => (
                  <Table striped aria-label="Members">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>user_id</Table.Th>
                        <Table.Th>device_id</Table.Th>
                        <Table.Th>Properties</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {m.items.map((x) => (
                        <Table.Tr key={`${x.user_id ?? ''}|${(x.device_ids ?? []).join(',')}`}>
                          <Table.Td>{x.user_id ?? '—'}</Table.Td>
                          <Table.Td>{(x.device_ids ?? []).join(', ') || '—'}</Table.Td>
                          <Table.Td>
                            <Code>{JSON.stringify(x.properties ?? {})}</Code>
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                )}
              </QueryState>
              {members.data?.nextCursor ? (
                <Text size="sm" c="dimmed" mt="xs">
                  Showing the first {members.data.items.length} members.
                </Text>
              ) : null}
            </Tabs.Panel>
          </Tabs>
          <ConfirmByName
            opened={deleting}
            title={`Delete cohort ${co.name}`}
            name={co.name}
            action="Delete cohort"
            busy={remove.isPending}
            onConfirm={() => remove.mutate()}
            onClose={() => {
              setDeleting(false);
              remove.reset();
            }}
          >
            {remove.isError ? <ErrorNotice error={remove.error} /> : null}
          </ConfirmByName>
        </Stack>
      )}
    </QueryState>
  );
}
