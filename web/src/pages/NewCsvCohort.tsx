// New cohort from CSV: preview and counts before the upload, then the server's answer with line-numbered
// errors (rows the server rejected are listed; every valid row is kept).
import {
  Alert,
  Anchor,
  Button,
  FileInput,
  Group,
  List,
  Paper,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconFileTypeCsv } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError, api } from '../api/client';
import type { Cohort } from '../api/types';
import { type CsvPreview, previewCsv } from '../csv';
import { useProjectId } from '../hooks';

interface Replaced {
  size: number;
  accepted: number;
  rejected: { line: number; reason: string }[];
}

export function NewCsvCohort() {
  const p = useProjectId();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [preview, setPreview] = useState<CsvPreview | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ cohort: Cohort; replaced: Replaced } | null>(null);

  const upload = useMutation({
    mutationFn: async () => {
      const cohort = await api<Cohort>(`/projects/${p}/cohorts`, {
        method: 'POST',
        body: { name: name.trim(), type: 'static' },
      });
      const replaced = await api<Replaced>(`/projects/${p}/cohorts/${cohort.id}/members`, {
        method: 'PUT',
        text: { body: text ?? '', type: 'text/csv' },
      });
      return { cohort, replaced };
    },
    onSuccess: (r) => {
      void qc.invalidateQueries({ queryKey: ['cohorts', p] });
      if (r.replaced.rejected.length === 0) navigate(`/p/${p}/cohorts/${r.cohort.id}`);
      else setResult(r);
    },
    onError: (e) => {
      if (e instanceof ApiError) {
        const fields = e.fieldErrors();
        setErrors(fields.name ? { name: fields.name } : { file: e.message });
      }
    },
  });

  const pick = async (f: File | null) => {
    setFile(f);
    setErrors({});
    if (!f) {
      setText(null);
      setPreview(null);
      return;
    }
    const t = await f.text();
    setText(t);
    setPreview(previewCsv(t));
  };

  return (
    <Stack maw={900}>
      <Title order={2}>New cohort from CSV</Title>
      <Text size="sm" c="dimmed">
        A header line with a <code>user_id</code> and/or <code>device_id</code> column; other columns become member
        properties (e.g. one a User alias mapping reads).
      </Text>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const problems: Record<string, string> = {};
          if (!name.trim()) problems.name = 'Give the cohort a name';
          if (!text) problems.file = 'Choose a CSV file';
          else if (preview?.problem) problems.file = preview.problem;
          setErrors(problems);
          if (Object.keys(problems).length === 0) upload.mutate();
        }}
      >
        <Stack>
          <TextInput
            label="Cohort name"
            value={name}
            onChange={(e) => {
              setName(e.currentTarget.value);
              setErrors(({ name: _n, ...rest }) => rest);
            }}
            error={errors.name}
          />
          <FileInput
            label="CSV file"
            placeholder="Choose a .csv file"
            accept=".csv,text/csv"
            leftSection={<IconFileTypeCsv size={16} />}
            value={file}
            onChange={(f) => void pick(f)}
            error={errors.file}
            clearable
          />
          {preview && !preview.problem ? (
            <Paper withBorder p="sm">
              <Group gap="xl" mb="xs">
                <Text size="sm">
                  <strong>{preview.total.toLocaleString()}</strong> rows
                </Text>
                <Text size="sm">
                  <strong>{preview.withUserId.toLocaleString()}</strong> with user_id
                </Text>
                <Text size="sm">
                  <strong>{preview.withDeviceId.toLocaleString()}</strong> with device_id
                </Text>
                {preview.noId.length ? (
                  <Text size="sm" c="red">
                    <strong>{preview.noId.length}</strong> with neither ({preview.noId.length === 1 ? 'line' : 'lines'}{' '}
                    {preview.noId.slice(0, 5).join(', ')}
                    {preview.noId.length > 5 ? ', …' : ''})
                  </Text>
                ) : null}
              </Group>
              <Table withTableBorder aria-label="CSV preview">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Line</Table.Th>
                    {preview.header.map((h) => (
                      <Table.Th key={h}>{h}</Table.Th>
                    ))}
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {preview.rows.map((r) => (
                    <Table.Tr key={`line-${r.line}`}>
                      <Table.Td c="dimmed">{r.line}</Table.Td>
                      {preview.header.map((h, j) => (
                        <Table.Td key={h}>{r.cells[j] ?? ''}</Table.Td>
                      ))}
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Paper>
          ) : null}
          <Group>
            <Button type="submit" loading={upload.isPending}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
      {result ? (
        <Alert
          color="orange"
          title={`Saved ${result.replaced.accepted.toLocaleString()} members; some lines were rejected`}
        >
          <List size="sm" aria-label="Rejected lines">
            {result.replaced.rejected.slice(0, 50).map((r) => (
              <List.Item key={r.line}>
                Line {r.line}: {r.reason}
              </List.Item>
            ))}
          </List>
          {result.replaced.rejected.length > 50 ? (
            <Text size="sm">…and {result.replaced.rejected.length - 50} more.</Text>
          ) : null}
          <Anchor component={Link} to={`/p/${p}/cohorts/${result.cohort.id}`} mt="sm" display="inline-block">
            Open {result.cohort.name}
          </Anchor>
        </Alert>
      ) : null}
    </Stack>
  );
}
