// A project's tokens: list, create (shown once), revoke. Used by the admin's projects page and Settings.
import {
  ActionIcon,
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  Select,
  Stack,
  Table,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { IconCopy, IconTrash } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import { useTokens } from '../api/queries';
import { QueryState } from './QueryState';
import { Time } from './Time';

export function TokensPanel({ projectId }: { projectId: string }) {
  const tokens = useTokens(projectId);
  const qc = useQueryClient();
  const [role, setRole] = useState<'editor' | 'viewer'>('editor');
  const [name, setName] = useState('');
  const [shown, setShown] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () =>
      api<{ token: string }>(`/projects/${projectId}/tokens`, {
        method: 'POST',
        body: { role, ...(name.trim() ? { name: name.trim() } : {}) },
      }),
    onSuccess: (t) => {
      setShown(t.token);
      setName('');
      void qc.invalidateQueries({ queryKey: ['tokens', projectId] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api(`/projects/${projectId}/tokens/${id}`, { method: 'DELETE' }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['tokens', projectId] }),
  });
  return (
    <Stack gap="sm">
      <Title order={3} size="h4">
        Project tokens
      </Title>
      {shown ? (
        <Alert
          color="green"
          title="Token created: copy it now, it is shown only once"
          withCloseButton
          onClose={() => setShown(null)}
        >
          <Group gap="xs" wrap="nowrap">
            <Code style={{ wordBreak: 'break-all' }} data-testid="new-token">
              {shown}
            </Code>
            <CopyButton value={shown}>
              {({ copied, copy }) => (
                <ActionIcon variant="subtle" onClick={copy} aria-label={copied ? 'Copied' : 'Copy token'}>
                  <IconCopy size={16} />
                </ActionIcon>
              )}
            </CopyButton>
          </Group>
        </Alert>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Group align="flex-end">
          <TextInput label="Token name" value={name} onChange={(e) => setName(e.currentTarget.value)} w={220} />
          <Select
            label="Role"
            data={[
              { value: 'editor', label: 'Editor (reads and changes)' },
              { value: 'viewer', label: 'Viewer (reads only)' },
            ]}
            value={role}
            onChange={(v) => v && setRole(v as 'editor' | 'viewer')}
            allowDeselect={false}
            w={240}
          />
          <Button type="submit" loading={create.isPending}>
            Create token
          </Button>
        </Group>
        {create.isError ? (
          <Alert color="red" mt="xs">
            {(create.error as Error).message}
          </Alert>
        ) : null}
      </form>
      <QueryState query={tokens}>
        {(data) =>
          data.items.length === 0 ? (
            <span>No project tokens yet.</span>
          ) : (
            <Table striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Role</Table.Th>
                  <Table.Th>Token</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th aria-label="Actions" />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((t) => (
                  <Table.Tr key={t.id}>
                    <Table.Td>{t.name ?? '—'}</Table.Td>
                    <Table.Td>{t.role}</Table.Td>
                    <Table.Td>
                      <Code>{t.hint}</Code>
                    </Table.Td>
                    <Table.Td>
                      <Time at={t.createdAt} />
                    </Table.Td>
                    <Table.Td>
                      <Tooltip label="Revoke">
                        <ActionIcon
                          variant="subtle"
                          color="red"
                          aria-label={`Revoke token ${t.name ?? t.hint}`}
                          onClick={() => revoke.mutate(t.id)}
                        >
                          <IconTrash size={16} />
                        </ActionIcon>
                      </Tooltip>
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
