// Catalog → Destinations → Braze: prerequisites, Add Destination / Add Another Key, and the targets table
// with rotate key, test connection and delete (blocked while syncs use the target, listing them).
import {
  ActionIcon,
  Alert,
  Anchor,
  Breadcrumbs,
  Button,
  Code,
  Group,
  List,
  Menu,
  Modal,
  Paper,
  PasswordInput,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconDots, IconPlus } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api } from '../api/client';
import { useCohorts, useDestination, useServer, useSyncs } from '../api/queries';
import type { Target } from '../api/types';
import { ConfirmByName } from '../components/ConfirmByName';
import { QueryState } from '../components/QueryState';
import { MAPPING } from '../components/Status';
import { useProjectId } from '../hooks';
import { TargetModal } from './TargetModal';

export function Prerequisites() {
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h5" mb="xs">
        Prerequisites: what you need from Braze
      </Title>
      <List type="ordered" spacing="xs" size="sm">
        <List.Item>
          <strong>Data Import Key</strong> (a Braze REST API key): in Braze, open <em>Partner Integrations</em> →{' '}
          <em>Technology Partners</em>, open the partner page and click <em>Generate New Key</em>.
        </List.Item>
        <List.Item>
          <strong>REST endpoint</strong>: shown on the same partner page in Braze; it looks like{' '}
          <Code>https://rest.iad-##.braze.com</Code> and matches your Braze instance.
        </List.Item>
      </List>
    </Paper>
  );
}

function RotateKey({ projectId, target, onClose }: { projectId: string; target: Target; onClose: () => void }) {
  const qc = useQueryClient();
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const attr = target.delivery === 'custom_attribute';
  const label = attr ? 'REST API key' : 'Data Import Key';
  const rotate = useMutation({
    mutationFn: () =>
      api(`/projects/${projectId}/destinations/braze/targets/${target.id}`, {
        method: 'PATCH',
        body: attr ? { restApiKey: key.trim() } : { dataImportKey: key.trim() },
      }),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['destination', projectId] });
      notifications.show({ color: 'green', message: `The key of ${target.name} was replaced` });
      onClose();
    },
    onError: (e) => setError((e as Error).message),
  });
  return (
    <Modal opened onClose={onClose} title={`Rotate the key of ${target.name}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!key.trim()) setError(`Paste the new ${label}`);
          else rotate.mutate();
        }}
      >
        <Stack>
          <PasswordInput
            label={`New ${label}`}
            value={key}
            onChange={(e) => {
              setKey(e.currentTarget.value);
              setError(null);
            }}
            error={error}
            autoComplete="off"
            data-autofocus
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={rotate.isPending}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export function BrazePage() {
  const p = useProjectId();
  const destination = useDestination(p);
  const syncs = useSyncs(p);
  const cohorts = useCohorts(p);
  const server = useServer();
  const qc = useQueryClient();
  const [adding, setAdding] = useState<'first' | 'another' | null>(null);
  const [rotating, setRotating] = useState<Target | null>(null);
  const [deleting, setDeleting] = useState<Target | null>(null);
  const endpointName = (url: string) => server.data?.endpoints.find((e) => e.url === url)?.name ?? url;
  const usedBy = (t: Target) => (syncs.data?.items ?? []).filter((s) => s.targetId === t.id);
  const cohortName = (id: string) => cohorts.data?.items.find((c) => c.id === id)?.name ?? id;
  const test = useMutation({
    mutationFn: (t: Target) =>
      api<{ ok: boolean; message: string }>(`/projects/${p}/destinations/braze/targets/${t.id}/test`, {
        method: 'POST',
      }),
    onSuccess: (r, t) =>
      notifications.show({
        color: r.ok ? 'green' : 'red',
        title: r.ok ? `${t.name}: connected` : `${t.name}: not connected`,
        message: r.message,
        autoClose: r.ok ? 4000 : false,
      }),
    onError: (e) => notifications.show({ color: 'red', message: (e as Error).message }),
  });
  const remove = useMutation({
    mutationFn: ({ t, withSyncs }: { t: Target; withSyncs: boolean }) =>
      api(`/projects/${p}/destinations/braze/targets/${t.id}${withSyncs ? '?deleteSyncs=true' : ''}`, {
        method: 'DELETE',
      }),
    onSuccess: async () => {
      setDeleting(null);
      await qc.invalidateQueries({ queryKey: ['destination', p] });
      void qc.invalidateQueries({ queryKey: ['syncs', p] });
    },
  });
  const deletingSyncs = deleting ? usedBy(deleting) : [];
  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to={`/p/${p}/catalog`}>
          Catalog
        </Anchor>
        <Anchor component={Link} to={`/p/${p}/catalog`}>
          Destinations
        </Anchor>
        <Text>Braze</Text>
      </Breadcrumbs>
      <Title order={2}>Braze</Title>
      <Prerequisites />
      <QueryState query={destination}>
        {(d) =>
          d.targets.length === 0 ? (
            <Paper withBorder p="lg">
              <Stack align="flex-start">
                <Text>Braze is not set up for this project yet.</Text>
                <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding('first')}>
                  Add Destination
                </Button>
              </Stack>
            </Paper>
          ) : (
            <Stack>
              <Group justify="space-between">
                <Title order={3} size="h4">
                  Targets
                </Title>
                <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding('another')}>
                  Add Another Key
                </Button>
              </Group>
              <Table striped highlightOnHover aria-label="Targets">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>REST endpoint</Table.Th>
                    <Table.Th>Delivery</Table.Th>
                    <Table.Th>Mapping</Table.Th>
                    <Table.Th>User alias label</Table.Th>
                    <Table.Th>Key</Table.Th>
                    <Table.Th>Syncs</Table.Th>
                    <Table.Th aria-label="Actions" />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {d.targets.map((t) => (
                    <Table.Tr key={t.id}>
                      <Table.Td fw={500}>{t.name}</Table.Td>
                      <Table.Td title={t.endpoint}>{endpointName(t.endpoint)}</Table.Td>
                      <Table.Td>{t.delivery === 'custom_attribute' ? 'Custom attribute' : 'Cohort import'}</Table.Td>
                      <Table.Td>{MAPPING[t.mapping.type]}</Table.Td>
                      <Table.Td>{t.mapping.aliasLabel ?? '—'}</Table.Td>
                      <Table.Td>
                        <Code>····{(t.dataImportKeyHint ?? t.restApiKeyHint ?? '').replace(/^…/, '')}</Code>
                      </Table.Td>
                      <Table.Td>{usedBy(t).length}</Table.Td>
                      <Table.Td>
                        <Menu position="bottom-end" withinPortal>
                          <Menu.Target>
                            <ActionIcon variant="subtle" aria-label={`Actions for ${t.name}`}>
                              <IconDots size={16} />
                            </ActionIcon>
                          </Menu.Target>
                          <Menu.Dropdown>
                            <Menu.Item onClick={() => test.mutate(t)}>Test connection</Menu.Item>
                            <Menu.Item onClick={() => setRotating(t)}>Rotate key</Menu.Item>
                            <Menu.Item color="red" onClick={() => setDeleting(t)}>
                              Delete
                            </Menu.Item>
                          </Menu.Dropdown>
                        </Menu>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Stack>
          )
        }
      </QueryState>
      {adding ? <TargetModal projectId={p} opened first={adding === 'first'} onClose={() => setAdding(null)} /> : null}
      {rotating ? <RotateKey projectId={p} target={rotating} onClose={() => setRotating(null)} /> : null}
      {deleting ? (
        <ConfirmByName
          opened
          title={`Delete target ${deleting.name}`}
          name={deleting.name}
          action={deletingSyncs.length ? `Delete target and ${deletingSyncs.length} sync(s)` : 'Delete target'}
          busy={remove.isPending}
          onClose={() => {
            setDeleting(null);
            remove.reset();
          }}
          onConfirm={() => remove.mutate({ t: deleting, withSyncs: deletingSyncs.length > 0 })}
        >
          {deletingSyncs.length ? (
            <Alert color="orange" title="This target is in use">
              <Text size="sm">These syncs send to it and would be deleted with it:</Text>
              <List size="sm">
                {deletingSyncs.map((s) => (
                  <List.Item key={s.id}>
                    <Anchor component={Link} to={`/p/${p}/syncs/${s.id}`}>
                      {cohortName(s.cohortId)} → {deleting.name}
                    </Anchor>
                  </List.Item>
                ))}
              </List>
            </Alert>
          ) : (
            <Text size="sm">The key is forgotten. Nothing is removed from Braze.</Text>
          )}
          {remove.isError ? <Alert color="red">{(remove.error as Error).message}</Alert> : null}
        </ConfirmByName>
      ) : null}
    </Stack>
  );
}
