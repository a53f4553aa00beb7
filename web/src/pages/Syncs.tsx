// Syncs: cohort → target, cadence, status, last run counts, next run; filters live in the URL so a filtered
// view can be shared and survives a reload; a runs-per-day chart above (loaded lazily).
import { Anchor, Group, Pagination, Paper, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { lazy, Suspense, useMemo } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useCohorts, useDestination, useRunsPerDay, useSyncs } from '../api/queries';
import type { Sync } from '../api/types';
import { QueryState, TableSkeleton } from '../components/QueryState';
import { CADENCE, StatusBadge, type SyncStatus, syncStatus } from '../components/Status';
import { Time } from '../components/Time';
import { useProjectId } from '../hooks';

const RunsPerDayChart = lazy(() => import('../charts/RunsPerDayChart'));
const PAGE = 50;
const STATUSES: SyncStatus[] = ['Pending', 'Healthy', 'Warning', 'Failing', 'Running', 'Paused'];

export function Counts({ sync }: { sync: Sync }) {
  const c = sync.lastRun?.counts;
  if (!c) return <span>—</span>;
  return (
    <Text size="sm" span title="added / removed / skipped / failed">
      +{c.added.toLocaleString()} −{c.removed.toLocaleString()} ~{c.skipped.toLocaleString()}
      {c.failed ? (
        <Text span c="red" size="sm">
          {' '}
          !{c.failed.toLocaleString()}
        </Text>
      ) : null}
    </Text>
  );
}

export function Syncs() {
  const p = useProjectId();
  const syncs = useSyncs(p);
  const cohorts = useCohorts(p);
  const destination = useDestination(p);
  const perDay = useRunsPerDay(p);
  const [params, setParams] = useSearchParams();
  const status = params.get('status');
  const cadence = params.get('cadence');
  const target = params.get('target');
  const q = params.get('q') ?? '';
  const page = Number(params.get('page') ?? '1') || 1;
  const setParam = (key: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== 'page') next.delete('page');
    setParams(next, { replace: true });
  };
  const cohortName = useMemo(() => new Map((cohorts.data?.items ?? []).map((c) => [c.id, c.name])), [cohorts.data]);
  const targetName = useMemo(
    () => new Map((destination.data?.targets ?? []).map((t) => [t.id, t.name])),
    [destination.data],
  );
  const filtered = useMemo(
    () =>
      (syncs.data?.items ?? []).filter(
        (s) =>
          (!status || syncStatus(s) === status) &&
          (!cadence || s.cadence === cadence) &&
          (!target || s.targetId === target) &&
          (!q || (cohortName.get(s.cohortId) ?? '').toLowerCase().includes(q.toLowerCase())),
      ),
    [syncs.data, status, cadence, target, q, cohortName],
  );
  const pages = Math.max(1, Math.ceil(filtered.length / PAGE));
  const shown = filtered.slice((page - 1) * PAGE, page * PAGE);
  return (
    <Stack>
      <Title order={2}>Syncs</Title>
      <Paper withBorder p="sm">
        <Text size="sm" fw={500} mb={4}>
          Runs per day (last 14 days, UTC)
        </Text>
        <QueryState query={perDay} skeleton={<TableSkeleton rows={3} />}>
          {(d) => (
            <Suspense fallback={<TableSkeleton rows={3} />}>
              <RunsPerDayChart days={d.days} />
            </Suspense>
          )}
        </QueryState>
      </Paper>
      <Group>
        <TextInput
          aria-label="Search cohorts"
          placeholder="Search cohorts"
          leftSection={<IconSearch size={16} />}
          value={q}
          onChange={(e) => setParam('q', e.currentTarget.value)}
          w={220}
        />
        <Select
          aria-label="Status"
          placeholder="Any status"
          data={STATUSES}
          value={status}
          onChange={(v) => setParam('status', v)}
          clearable
          w={160}
        />
        <Select
          aria-label="Cadence"
          placeholder="Any cadence"
          data={Object.entries(CADENCE).map(([value, label]) => ({ value, label }))}
          value={cadence}
          onChange={(v) => setParam('cadence', v)}
          clearable
          w={160}
        />
        <Select
          aria-label="Target"
          placeholder="Any target"
          data={(destination.data?.targets ?? []).map((t) => ({ value: t.id, label: t.name }))}
          value={target}
          onChange={(v) => setParam('target', v)}
          clearable
          w={180}
        />
        <Text size="sm" c="dimmed">
          {filtered.length.toLocaleString()} of {(syncs.data?.items.length ?? 0).toLocaleString()}
        </Text>
      </Group>
      <QueryState query={syncs}>
        {() =>
          filtered.length === 0 ? (
            <Text>No syncs{params.size ? ' match these filters' : ' yet: open a cohort and click Sync'}.</Text>
          ) : (
            <>
              <Table striped highlightOnHover aria-label="Syncs">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Cohort → target</Table.Th>
                    <Table.Th>Cadence</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Last run</Table.Th>
                    <Table.Th>Counts</Table.Th>
                    <Table.Th>Next run</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {shown.map((s) => (
                    <Table.Tr key={s.id}>
                      <Table.Td>
                        <Anchor component={Link} to={`/p/${p}/syncs/${s.id}`}>
                          {cohortName.get(s.cohortId) ?? s.cohortId} → {targetName.get(s.targetId) ?? s.targetId}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>{CADENCE[s.cadence]}</Table.Td>
                      <Table.Td>
                        <StatusBadge word={syncStatus(s)} />
                      </Table.Td>
                      <Table.Td>
                        <Time at={s.lastRun?.finishedAt ?? s.lastRun?.queuedAt} />
                      </Table.Td>
                      <Table.Td>
                        <Counts sync={s} />
                      </Table.Td>
                      <Table.Td>{s.paused ? 'paused' : <Time at={s.nextRunAt} />}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              {pages > 1 ? (
                <Pagination total={pages} value={page} onChange={(n) => setParam('page', String(n))} />
              ) : null}
            </>
          )
        }
      </QueryState>
    </Stack>
  );
}
