// Catalog → Destinations: the destinations one can add (the seed page: "click Catalog and select the
// Destinations tab … select the Cohort type and then click Braze").
import { Badge, Card, Group, SimpleGrid, Tabs, Text, TextInput, Title, UnstyledButton } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { useDestination } from '../api/queries';
import { useProjectId } from '../hooks';

export function Catalog() {
  const p = useProjectId();
  const navigate = useNavigate();
  const destination = useDestination(p);
  const [search, setSearch] = useState('');
  const targets = destination.data?.targets.length ?? 0;
  const showBraze = 'braze'.includes(search.trim().toLowerCase());
  return (
    <>
      <Title order={2} mb="md">
        Catalog
      </Title>
      <Tabs defaultValue="destinations">
        <Tabs.List>
          <Tabs.Tab value="destinations">Destinations</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="destinations" pt="md">
          <Group mb="md">
            <Badge variant="filled">Cohort</Badge>
            <TextInput
              aria-label="Search destinations"
              placeholder="Search"
              leftSection={<IconSearch size={16} />}
              value={search}
              onChange={(e) => setSearch(e.currentTarget.value)}
              w={260}
            />
          </Group>
          <SimpleGrid cols={3}>
            {showBraze ? (
              <UnstyledButton onClick={() => navigate(`/p/${p}/destinations/braze`)} aria-label="Braze">
                <Card withBorder padding="lg">
                  <Group justify="space-between">
                    <Text fw={600} size="lg">
                      Braze
                    </Text>
                    {targets > 0 ? (
                      <Badge color="green">
                        {targets} target{targets === 1 ? '' : 's'}
                      </Badge>
                    ) : null}
                  </Group>
                  <Text size="sm" c="dimmed" mt="xs">
                    Cohort Sync: send cohorts to Braze as partner cohorts, one-time, scheduled or in real time.
                  </Text>
                </Card>
              </UnstyledButton>
            ) : (
              <Text c="dimmed">No destination matches.</Text>
            )}
          </SimpleGrid>
        </Tabs.Panel>
      </Tabs>
    </>
  );
}
