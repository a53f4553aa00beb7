// Cohorts: type, size, last computed and the syncs that send each one.
import { Anchor, Badge, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import { IconFileUpload, IconListDetails } from '@tabler/icons-react';
import { Link } from 'react-router';
import { useCohorts, useSyncs } from '../api/queries';
import { QueryState } from '../components/QueryState';
import { Time } from '../components/Time';
import { useProjectId } from '../hooks';

export function Cohorts() {
  const p = useProjectId();
  const cohorts = useCohorts(p);
  const syncs = useSyncs(p);
  const syncCount = (id: string) => (syncs.data?.items ?? []).filter((s) => s.cohortId === id).length;
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Cohorts</Title>
        <Group>
          <Button component={Link} to={`/p/${p}/cohorts/new`} leftSection={<IconFileUpload size={16} />}>
            New cohort from CSV
          </Button>
          <Button
            component={Link}
            to={`/p/${p}/cohorts/new-rules`}
            variant="light"
            leftSection={<IconListDetails size={16} />}
          >
            New cohort from rules
          </Button>
        </Group>
      </Group>
      <QueryState query={cohorts}>
        {(data) =>
          data.items.length === 0 ? (
            <Text>No cohorts yet. Upload a CSV of user ids or build one from rules.</Text>
          ) : (
            <Table striped highlightOnHover aria-label="Cohorts">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th ta="right">Size</Table.Th>
                  <Table.Th>Last computed</Table.Th>
                  <Table.Th ta="right">Syncs</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((c) => (
                  <Table.Tr key={c.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/p/${p}/cohorts/${c.id}`}>
                        {c.name}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={c.type === 'static' ? 'gray' : 'grape'}>
                        {c.type === 'static' ? 'CSV / API' : 'Rules'}
                      </Badge>
                    </Table.Td>
                    <Table.Td ta="right">{c.size.toLocaleString()}</Table.Td>
                    <Table.Td>
                      <Time at={c.updatedAt} />
                    </Table.Td>
                    <Table.Td ta="right">{syncCount(c.id)}</Table.Td>
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
