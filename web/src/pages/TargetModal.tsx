// "Add Destination" (the first target, named Default) and "Add Another Key" (a named target): REST endpoint,
// delivery mode, key and user mapping, as the seed page words them. Keys go in and never come back.
import { Alert, Button, Group, Modal, PasswordInput, Radio, Select, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api } from '../api/client';
import { useServer } from '../api/queries';
import type { Delivery, MappingType, Target } from '../api/types';

export interface TargetDraft {
  name: string;
  endpoint: string;
  delivery: Delivery;
  key: string;
  mapping: MappingType;
  aliasLabel: string;
  aliasProperty: string;
  attributeName: string;
  attributeStyle: 'array' | 'boolean';
}

const EMPTY: TargetDraft = {
  name: '',
  endpoint: '',
  delivery: 'cohort_import',
  key: '',
  mapping: 'user_id',
  aliasLabel: '',
  aliasProperty: '',
  attributeName: '',
  attributeStyle: 'array',
};

/** Problems the form can see before asking the server, keyed by field. */
export function draftProblems(d: TargetDraft): Record<string, string> {
  const out: Record<string, string> = {};
  if (!d.name.trim()) out.name = 'Give the target a name, e.g. "US Production"';
  if (!d.endpoint) out.endpoint = 'Select the REST endpoint of your Braze instance';
  if (!d.key.trim()) out.key = d.delivery === 'cohort_import' ? 'Paste the Data Import Key' : 'Paste the REST API key';
  if (d.mapping === 'user_alias' && !d.aliasLabel.trim()) out.aliasLabel = 'A User alias needs a User alias label';
  if (d.delivery === 'custom_attribute' && d.mapping === 'device_id')
    out.mapping = 'The custom attribute mode maps user_id or User alias only';
  return out;
}

/** The body of POST …/targets (or of the single-key PUT for Default). */
export function targetBody(d: TargetDraft) {
  const mapping =
    d.mapping === 'user_alias'
      ? {
          type: d.mapping,
          aliasLabel: d.aliasLabel.trim(),
          ...(d.aliasProperty.trim() ? { aliasProperty: d.aliasProperty.trim() } : {}),
        }
      : { type: d.mapping };
  const key = d.key.trim();
  return {
    name: d.name.trim(),
    endpoint: d.endpoint,
    mapping,
    ...(d.delivery === 'custom_attribute'
      ? {
          delivery: d.delivery,
          restApiKey: key,
          attribute: {
            style: d.attributeStyle,
            ...(d.attributeName.trim() ? { name: d.attributeName.trim() } : {}),
          },
        }
      : { dataImportKey: key }),
  };
}

/** Server field paths → this form's fields. */
function fieldOf(path: string): string {
  if (path === 'dataImportKey' || path === 'restApiKey') return 'key';
  if (path.startsWith('mapping.aliasLabel')) return 'aliasLabel';
  if (path.startsWith('mapping.aliasProperty')) return 'aliasProperty';
  if (path.startsWith('mapping')) return 'mapping';
  if (path.startsWith('attribute')) return 'attributeName';
  return path;
}

function serverProblems(error: unknown): { fields: Record<string, string>; general: string | null } {
  if (!(error instanceof ApiError)) return { fields: {}, general: error ? String((error as Error).message) : null };
  const fields: Record<string, string> = {};
  for (const [path, message] of Object.entries(error.fieldErrors())) fields[fieldOf(path)] ??= message;
  if (error.code === 'target_name_taken' || error.code === 'target_name_reserved') fields.name = error.message;
  if (error.code === 'mapping_not_supported') fields.mapping = error.message;
  return { fields, general: Object.keys(fields).length ? null : error.message };
}

export function TargetModal({
  projectId,
  opened,
  first,
  onClose,
}: {
  projectId: string;
  opened: boolean;
  /** Add Destination: the first target, named Default, through the single-key form. */
  first: boolean;
  onClose: () => void;
}) {
  const server = useServer();
  const qc = useQueryClient();
  const [d, setD] = useState<TargetDraft>({ ...EMPTY, name: first ? 'Default' : '' });
  const [shown, setShown] = useState<Record<string, string>>({});
  const set = <K extends keyof TargetDraft>(k: K, v: TargetDraft[K]) => {
    setD((prev) => ({ ...prev, [k]: v }));
    setShown((prev) => {
      const { [k]: _gone, ...rest } = prev;
      return rest;
    });
  };
  const save = useMutation({
    mutationFn: async () => {
      const body = targetBody(d);
      if (first && d.delivery === 'cohort_import')
        return api(`/projects/${projectId}/destinations/braze`, {
          method: 'PUT',
          body: { enabled: true, endpoint: body.endpoint, dataImportKey: d.key.trim(), mapping: body.mapping },
        });
      if (first) await api(`/projects/${projectId}/destinations/braze`, { method: 'PUT', body: { enabled: true } });
      return api<Target>(`/projects/${projectId}/destinations/braze/targets`, { method: 'POST', body });
    },
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['destination', projectId] });
      void qc.invalidateQueries({ queryKey: ['projects'] });
      setD({ ...EMPTY, name: first ? 'Default' : '' });
      onClose();
    },
    onError: (error) => setShown(serverProblems(error).fields),
  });
  const sandboxKey = useMutation({
    mutationFn: () => api<{ dataImportKey: string }>('/sandbox/keys', { method: 'POST' }),
    onSuccess: (r) => {
      set('key', r.dataImportKey);
      if (server.data?.sandbox) set('endpoint', server.data.sandbox.url);
    },
  });
  const endpoints = server.data?.endpoints ?? [];
  const group = (kind: string, label: string) => ({
    group: label,
    items: endpoints.filter((e) => e.kind === kind).map((e) => ({ value: e.url, label: `${e.name} — ${e.url}` })),
  });
  const data = [
    group('braze', 'Braze instances'),
    group('allowed', 'Allowed by the operator'),
    group('sandbox', 'Sandbox'),
  ].filter((g) => g.items.length > 0);
  const general = save.isError ? serverProblems(save.error).general : null;
  const keyLabel = d.delivery === 'cohort_import' ? 'Data Import Key' : 'REST API key';
  return (
    <Modal opened={opened} onClose={onClose} title={first ? 'Add Destination: Braze' : 'Add Another Key'} size="lg">
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const problems = draftProblems(d);
          setShown(problems);
          if (Object.keys(problems).length === 0) save.mutate();
        }}
      >
        <Stack gap="sm">
          <TextInput
            label="Name"
            description={
              first
                ? 'Your first key is the target named Default; syncs that name no target use it.'
                : 'For example "US Production" or "EU Staging". It cannot be changed after saving.'
            }
            value={d.name}
            readOnly={first}
            onChange={(e) => set('name', e.currentTarget.value)}
            error={shown.name}
          />
          <Select
            label="REST endpoint"
            description="Your Braze instance's REST endpoint, e.g. https://rest.iad-01.braze.com"
            placeholder="Select your endpoint"
            data={data}
            value={d.endpoint || null}
            onChange={(v) => set('endpoint', v ?? '')}
            error={shown.endpoint}
            searchable
            comboboxProps={{ withinPortal: true }}
          />
          {!first ? (
            <Radio.Group label="Delivery mode" value={d.delivery} onChange={(v) => set('delivery', v as Delivery)}>
              <Stack gap={4} mt={4}>
                <Radio value="cohort_import" label="Cohort import (partner cohort, Data Import Key)" />
                <Radio value="custom_attribute" label="Custom attribute (users.track, REST API key)" />
              </Stack>
            </Radio.Group>
          ) : null}
          <Group align="flex-end" wrap="nowrap">
            <PasswordInput
              label={keyLabel}
              description={
                d.delivery === 'cohort_import'
                  ? 'Braze → Partner Integrations → Technology Partners → the partner page → Generate New Key'
                  : 'Braze → Settings → APIs and Identifiers → a REST API key with users.track permission'
              }
              value={d.key}
              onChange={(e) => set('key', e.currentTarget.value)}
              error={shown.key}
              autoComplete="off"
              style={{ flex: 1 }}
            />
            {server.data?.sandbox && d.delivery === 'cohort_import' ? (
              <Button variant="light" onClick={() => sandboxKey.mutate()} loading={sandboxKey.isPending}>
                Create a sandbox key
              </Button>
            ) : null}
          </Group>
          <Radio.Group
            label="User mapping"
            description="Which Amplitude-side identifier finds the user in Braze"
            value={d.mapping}
            onChange={(v) => set('mapping', v as MappingType)}
            error={shown.mapping}
          >
            <Stack gap={4} mt={4}>
              <Radio value="user_id" label="user_id — the user ID as Braze external_id (identified users)" />
              <Radio
                value="device_id"
                label="device_id — the device ID (anonymous users)"
                disabled={d.delivery === 'custom_attribute'}
              />
              <Radio value="user_alias" label="User alias — a custom alias with a label" />
            </Stack>
          </Radio.Group>
          {d.mapping === 'user_alias' ? (
            <Group grow>
              <TextInput
                label="User alias label"
                value={d.aliasLabel}
                onChange={(e) => set('aliasLabel', e.currentTarget.value)}
                error={shown.aliasLabel}
              />
              <TextInput
                label="Alias property"
                description="The member property whose value is the alias name (default user_id)"
                placeholder="user_id"
                value={d.aliasProperty}
                onChange={(e) => set('aliasProperty', e.currentTarget.value)}
                error={shown.aliasProperty}
              />
            </Group>
          ) : null}
          {d.delivery === 'custom_attribute' ? (
            <Group grow>
              <TextInput
                label="Attribute name"
                placeholder="cohorts"
                value={d.attributeName}
                onChange={(e) => set('attributeName', e.currentTarget.value)}
                error={shown.attributeName}
              />
              <Select
                label="Attribute style"
                data={[
                  { value: 'array', label: 'Array of cohort names' },
                  { value: 'boolean', label: 'One boolean per cohort' },
                ]}
                value={d.attributeStyle}
                onChange={(v) => v && set('attributeStyle', v as 'array' | 'boolean')}
                allowDeselect={false}
              />
            </Group>
          ) : null}
          {general ? (
            <Alert color="red" role="alert">
              {general}
            </Alert>
          ) : null}
          <Text size="xs" c="dimmed">
            The key is stored encrypted and never shown again; only its last four characters are.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
