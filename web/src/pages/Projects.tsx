// The admin's projects: create one, open one, and give it tokens.
import { Anchor, Button, Group, Paper, Stack, Table, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError, api } from '../api/client';
import { useProjects } from '../api/queries';
import type { Project } from '../api/types';
import { QueryState } from '../components/QueryState';
import { Time } from '../components/Time';
import { TokensPanel } from '../components/Tokens';
import { useSession } from '../session';

export function Projects() {
  const { who } = useSession();
  const projects = useProjects();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [tokensOf, setTokensOf] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () => api<Project>('/projects', { method: 'POST', body: { name: name.trim() } }),
    onSuccess: async (p) => {
      setName('');
      await qc.invalidateQueries({ queryKey: ['projects'] });
      navigate(`/p/${p.id}/catalog`);
    },
  });
  const nameError = create.error instanceof ApiError ? (create.error.fieldErrors().name ?? create.error.message) : null;
  return (
    <Stack>
      <Title order={2}>Projects</Title>
      {who?.kind === 'admin' ? (
        <Paper withBorder p="md">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              create.mutate();
            }}
          >
            <Group align="flex-start">
              <TextInput
                label="Project name"
                value={name}
                onChange={(e) => setName(e.currentTarget.value)}
                error={nameError}
                w={320}
              />
              <Button type="submit" mt={25} loading={create.isPending}>
                Create project
              </Button>
            </Group>
          </form>
        </Paper>
      ) : null}
      <QueryState query={projects}>
        {(data) => (
          <Table striped highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Braze</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th aria-label="Actions" />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((p) => (
                <Table.Tr key={p.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/p/${p.id}/syncs`}>
                      {p.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{p.brazeEnabled ? 'enabled' : 'not set up'}</Table.Td>
                  <Table.Td>
                    <Time at={p.createdAt} />
                  </Table.Td>
                  <Table.Td>
                    <Button
                      size="compact-sm"
                      variant="light"
                      onClick={() => setTokensOf(tokensOf === p.id ? null : p.id)}
                    >
                      Tokens
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryState>
      {tokensOf ? (
        <Paper withBorder p="md">
          <TokensPanel projectId={tokensOf} />
        </Paper>
      ) : null}
    </Stack>
  );
}
