// Explain a user: per cohort, member or not; per sync, the identifiers, what was last sent and whether Braze
// can match them.
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  List,
  Paper,
  SegmentedControl,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, qs } from '../api/client';
import type { Explanation } from '../api/types';
import { QueryState } from '../components/QueryState';
import { CADENCE } from '../components/Status';
import { Time } from '../components/Time';
import { useProjectId } from '../hooks';

const STATE_WORDS: Record<string, string> = {
  in_braze: 'in Braze',
  pending_add: 'will be added on the next run',
  pending_removal: 'will be removed on the next run',
};

export function Explain() {
  const p = useProjectId();
  const [params, setParams] = useSearchParams();
  const kind = params.get('device_id') !== null ? 'device_id' : 'user_id';
  const asked = params.get(kind) ?? '';
  const [field, setField] = useState<'user_id' | 'device_id'>(kind);
  const [value, setValue] = useState(asked);
  const [error, setError] = useState<string | null>(null);
  const explanation = useQuery({
    queryKey: ['explain', p, kind, asked],
    queryFn: () => api<Explanation>(`/projects/${p}/explain${qs({ [kind]: asked })}`),
    enabled: asked !== '',
  });
  const label = field === 'user_id' ? 'User ID' : 'Device ID';
  return (
    <Stack>
      <Title order={2}>Explain a user</Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!value.trim()) {
            setError(`Enter a ${label}`);
            return;
          }
          setParams({ [field]: value.trim() });
        }}
      >
        <Group align="flex-start">
          <SegmentedControl
            aria-label="Look up by"
            value={field}
            onChange={(v) => setField(v as 'user_id' | 'device_id')}
            data={[
              { value: 'user_id', label: 'User ID' },
              { value: 'device_id', label: 'Device ID' },
            ]}
            mt={25}
          />
          <TextInput
            label={label}
            value={value}
            onChange={(e) => {
              setValue(e.currentTarget.value);
              setError(null);
            }}
            error={error}
            w={320}
          />
          <Button type="submit" mt={25}>
            Explain
          </Button>
        </Group>
      </form>
      {asked ? (
        <QueryState query={explanation}>
          {(x) => (
            <Stack>
              {x.profile ? (
                <Text>
                  Profile: user_id <strong>{x.profile.userId ?? '—'}</strong>, device ids{' '}
                  <strong>{x.profile.deviceIds.join(', ') || '—'}</strong> (
                  {x.profile.identified ? 'identified' : 'anonymous'})
                </Text>
              ) : (
                <Alert color="orange">
                  No profile of this project has this {kind === 'user_id' ? 'User ID' : 'Device ID'}.
                </Alert>
              )}
              {x.notes.length ? (
                <List size="sm">
                  {x.notes.map((n) => (
                    <List.Item key={n}>{n}</List.Item>
                  ))}
                </List>
              ) : null}
              {x.cohorts.map((c) => (
                <Paper withBorder p="md" key={c.cohortId}>
                  <Group gap="sm" mb="xs">
                    <Anchor component={Link} to={`/p/${p}/cohorts/${c.cohortId}`} fw={600}>
                      {c.cohortName}
                    </Anchor>
                    <Badge color={c.member ? 'green' : 'gray'} variant="light">
                      {c.member ? 'member' : 'not a member'}
                    </Badge>
                  </Group>
                  {c.syncs.map((s) => (
                    <Stack key={s.syncId} gap={4} mb="sm">
                      <Text size="sm">
                        <Anchor component={Link} to={`/p/${p}/syncs/${s.syncId}`}>
                          → {s.targetName ?? 'deleted target'}
                        </Anchor>{' '}
                        · {CADENCE[s.cadence]}
                        {s.paused ? ' · paused' : ''}
                        {s.via ? ` · reached through ${s.via}` : ''}
                      </Text>
                      {s.skipped ? (
                        <Text size="sm" c="orange">
                          Skipped: {s.skipped.message}
                        </Text>
                      ) : null}
                      {s.identifiers.length ? (
                        <Table withTableBorder>
                          <Table.Thead>
                            <Table.Tr>
                              <Table.Th>Identifier</Table.Th>
                              <Table.Th>State</Table.Th>
                              <Table.Th>Last operation</Table.Th>
                              <Table.Th>Can Braze match them?</Table.Th>
                            </Table.Tr>
                          </Table.Thead>
                          <Table.Tbody>
                            {s.identifiers.map((i) => (
                              <Table.Tr key={`${i.kind}:${i.value}`}>
                                <Table.Td>
                                  {i.kind} {i.value}
                                </Table.Td>
                                <Table.Td>{STATE_WORDS[i.state] ?? i.state.replace(/_/g, ' ')}</Table.Td>
                                <Table.Td>
                                  {i.lastRun ? (
                                    <>
                                      {i.lastRun.operation} {i.lastRun.outcome} in{' '}
                                      <Anchor component={Link} to={`/p/${p}/runs/${i.lastRun.runId}`}>
                                        run {i.lastRun.runId.slice(-8)}
                                      </Anchor>{' '}
                                      <Time at={i.lastRun.at} />
                                      {i.lastRun.error ? ` — ${i.lastRun.error}` : ''}
                                    </>
                                  ) : (
                                    'never sent'
                                  )}
                                </Table.Td>
                                <Table.Td>{i.brazeRule}</Table.Td>
                              </Table.Tr>
                            ))}
                          </Table.Tbody>
                        </Table>
                      ) : null}
                    </Stack>
                  ))}
                  {c.syncs.length === 0 ? (
                    <Text size="sm" c="dimmed">
                      Not synced anywhere.
                    </Text>
                  ) : null}
                </Paper>
              ))}
            </Stack>
          )}
        </QueryState>
      ) : null}
    </Stack>
  );
}
