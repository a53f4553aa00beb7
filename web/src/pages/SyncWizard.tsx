// The sync wizard, worded as the seed page: Sync → select Braze → Next → choose the account (target) →
// One-Time Sync / Scheduled Sync / Real-Time Sync → review with a preview of adds, removes and skips → Save.
import {
  Alert,
  Anchor,
  Button,
  Card,
  Checkbox,
  Group,
  Radio,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Stepper,
  Table,
  Text,
  TextInput,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { IconCheck } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError, api } from '../api/client';
import { useCohort, useDestination, useServer } from '../api/queries';
import type { Cadence, Preview, Sync, Target } from '../api/types';
import { QueryState, TableSkeleton } from '../components/QueryState';
import { MAPPING } from '../components/Status';
import { useParam, useProjectId } from '../hooks';
import { TargetModal } from './TargetModal';

export type Kind = 'one_time' | 'scheduled' | 'real_time';

export const CADENCE_HELP: Record<Kind, string> = {
  one_time: 'Sends the cohort once, now. Run it again by hand whenever you like.',
  scheduled: 'Sends what changed every hour, every day or on a cron schedule (UTC).',
  real_time: 'Sends changes within about a minute of them happening, and reconciles every hour.',
};

/** The API's cadence (and cron) for the wizard's choice. */
export function cadenceOf(
  kind: Kind,
  every: 'hourly' | 'daily' | 'cron',
  cron: string,
): { cadence: Cadence; cron?: string } {
  if (kind === 'one_time') return { cadence: 'one_time' };
  if (kind === 'real_time') return { cadence: 'real_time' };
  return every === 'cron' ? { cadence: 'cron', cron: cron.trim() } : { cadence: every };
}

function PreviewTable({ preview }: { preview: Preview }) {
  const rows = [
    { label: 'Added', count: preview.add.count, sample: preview.add.sample.map((i) => i.value) },
    { label: 'Removed', count: preview.remove.count, sample: preview.remove.sample.map((i) => i.value) },
    {
      label: 'Skipped',
      count: preview.skipped.count,
      sample: Object.entries(preview.skipped.reasons).map(([r, n]) => `${r} (${n})`),
    },
  ];
  return (
    <Table withTableBorder aria-label="Preview">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Would be</Table.Th>
          <Table.Th ta="right">Users</Table.Th>
          <Table.Th>For example</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((r) => (
          <Table.Tr key={r.label}>
            <Table.Td>{r.label}</Table.Td>
            <Table.Td ta="right" data-testid={`preview-${r.label.toLowerCase()}`}>
              {r.count.toLocaleString()}
            </Table.Td>
            <Table.Td>
              <Text size="sm" lineClamp={1}>
                {r.sample.slice(0, 5).join(', ') || '—'}
              </Text>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function SyncWizard() {
  const p = useProjectId();
  const c = useParam('cohortId');
  const cohort = useCohort(p, c);
  const destination = useDestination(p);
  const server = useServer();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [step, setStep] = useState(0);
  const [braze, setBraze] = useState(false);
  const [targetId, setTargetId] = useState<string | null>(null);
  const [kind, setKind] = useState<Kind | null>(null);
  const [every, setEvery] = useState<'hourly' | 'daily' | 'cron'>('daily');
  const [cron, setCron] = useState('');
  const [attrValue, setAttrValue] = useState('');
  const [adding, setAdding] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [seedProfiles, setSeedProfiles] = useState(true);
  const targets = destination.data?.targets ?? [];
  const target: Target | undefined = targets.find((t) => t.id === targetId);
  const onSandbox = Boolean(server.data?.sandbox && target && target.endpoint === server.data.sandbox.url);

  const preview = useQuery({
    queryKey: ['draft-preview', p, c, targetId],
    queryFn: () => api<Preview>(`/projects/${p}/syncs/preview`, { method: 'POST', body: { cohortId: c, targetId } }),
    enabled: step === 3 && Boolean(targetId),
  });

  const save = useMutation({
    mutationFn: async () => {
      if (!target || !kind) throw new Error('choose a target and a cadence');
      if (onSandbox && seedProfiles)
        await api(`/projects/${p}/sandbox/profiles`, { method: 'POST', body: { cohortId: c, targetId: target.id } });
      const attribute =
        target.delivery === 'custom_attribute' && attrValue.trim()
          ? target.attribute?.style === 'boolean'
            ? { name: attrValue.trim() }
            : { value: attrValue.trim() }
          : undefined;
      return api<Sync>(`/projects/${p}/syncs`, {
        method: 'POST',
        body: {
          cohortId: c,
          targetId: target.id,
          ...cadenceOf(kind, every, cron),
          ...(attribute ? { attribute } : {}),
        },
      });
    },
    onSuccess: async (sync) => {
      await qc.invalidateQueries({ queryKey: ['syncs', p] });
      navigate(`/p/${p}/syncs/${sync.id}`);
    },
    onError: (e) => {
      if (e instanceof ApiError && e.fieldErrors().cron) {
        setErrors({ cron: e.fieldErrors().cron ?? e.message });
        setStep(2);
      }
    },
  });

  const next = () => {
    const problems: Record<string, string> = {};
    if (step === 0 && !braze) problems.destination = 'Select Braze';
    if (step === 1 && !targetId) problems.target = 'Choose the account (target) to sync to';
    if (step === 2 && !kind) problems.cadence = 'Choose the sync cadence';
    if (step === 2 && kind === 'scheduled' && every === 'cron' && !cron.trim())
      problems.cron = 'Write a cron expression, e.g. 0 6 * * 1-5';
    setErrors(problems);
    if (Object.keys(problems).length === 0) setStep((s) => s + 1);
  };

  return (
    <Stack maw={960}>
      <Anchor component={Link} to={`/p/${p}/cohorts/${c}`} size="sm">
        {cohort.data?.name ?? 'Cohort'}
      </Anchor>
      <Title order={2}>Sync {cohort.data?.name ?? ''}</Title>
      <Stepper active={step} onStepClick={(s) => s < step && setStep(s)} size="sm">
        <Stepper.Step label="Destination" description="Select Braze">
          <Stack mt="md">
            <SimpleGrid cols={3}>
              <UnstyledButton onClick={() => setBraze(true)} aria-pressed={braze} aria-label="Braze">
                <Card
                  withBorder
                  padding="lg"
                  style={{
                    borderColor: braze ? 'var(--mantine-color-indigo-6)' : undefined,
                    borderWidth: braze ? 2 : 1,
                  }}
                >
                  <Group justify="space-between">
                    <Text fw={600}>Braze</Text>
                    {braze ? <IconCheck size={18} color="var(--mantine-color-indigo-6)" /> : null}
                  </Group>
                  <Text size="sm" c="dimmed">
                    {targets.length} target{targets.length === 1 ? '' : 's'} configured
                  </Text>
                </Card>
              </UnstyledButton>
            </SimpleGrid>
            {errors.destination ? (
              <Text c="red" size="sm">
                {errors.destination}
              </Text>
            ) : null}
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Account" description="Choose the target">
          <Stack mt="md">
            <QueryState query={destination}>
              {(d) => (
                <Radio.Group
                  label="Choose the account you want to sync to"
                  value={targetId}
                  onChange={setTargetId}
                  error={errors.target}
                >
                  <Stack gap="xs" mt="xs">
                    {d.targets.map((t) => (
                      <Radio
                        key={t.id}
                        value={t.id}
                        label={`${t.name} — ${MAPPING[t.mapping.type]}${t.mapping.aliasLabel ? ` (${t.mapping.aliasLabel})` : ''} · ${t.endpoint}`}
                      />
                    ))}
                    {d.targets.length === 0 ? <Text>No target yet: add one first.</Text> : null}
                  </Stack>
                </Radio.Group>
              )}
            </QueryState>
            <Group>
              <Button variant="light" onClick={() => setAdding(true)}>
                {targets.length === 0 ? 'Add Destination' : 'Add Another Key'}
              </Button>
            </Group>
            {target?.delivery === 'custom_attribute' ? (
              <TextInput
                label={target.attribute?.style === 'boolean' ? 'Attribute name' : 'Attribute value'}
                description="How the cohort appears in the custom attribute (default: the cohort's name)"
                value={attrValue}
                onChange={(e) => setAttrValue(e.currentTarget.value)}
                maw={420}
              />
            ) : null}
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Cadence" description="How often">
          <Stack mt="md">
            <Radio.Group
              label="Choose the sync cadence"
              value={kind}
              onChange={(v) => setKind(v as Kind)}
              error={errors.cadence}
            >
              <Stack gap="sm" mt="xs">
                <Radio value="one_time" label="One-Time Sync" description={CADENCE_HELP.one_time} />
                <Radio value="scheduled" label="Scheduled Sync" description={CADENCE_HELP.scheduled} />
                <Radio value="real_time" label="Real-Time Sync" description={CADENCE_HELP.real_time} />
              </Stack>
            </Radio.Group>
            {kind === 'scheduled' ? (
              <Group align="flex-start">
                <SegmentedControl
                  aria-label="Schedule"
                  value={every}
                  onChange={(v) => setEvery(v as 'hourly' | 'daily' | 'cron')}
                  data={[
                    { value: 'hourly', label: 'Hourly' },
                    { value: 'daily', label: 'Daily' },
                    { value: 'cron', label: 'Cron' },
                  ]}
                />
                {every === 'cron' ? (
                  <TextInput
                    label="Cron expression (UTC)"
                    placeholder="0 6 * * 1-5"
                    value={cron}
                    onChange={(e) => setCron(e.currentTarget.value)}
                    error={errors.cron}
                  />
                ) : null}
              </Group>
            ) : null}
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Review" description="Preview and save">
          <Stack mt="md">
            <Text>
              <strong>{cohort.data?.name}</strong> → Braze target <strong>{target?.name}</strong>,{' '}
              {kind === 'scheduled'
                ? every === 'cron'
                  ? `Scheduled Sync (cron ${cron})`
                  : `Scheduled Sync (${every})`
                : kind === 'real_time'
                  ? 'Real-Time Sync'
                  : 'One-Time Sync'}
              . The first run starts as soon as you save.
            </Text>
            <QueryState query={preview} skeleton={<TableSkeleton rows={3} />}>
              {(pv) => <PreviewTable preview={pv} />}
            </QueryState>
            {onSandbox ? (
              <Checkbox
                checked={seedProfiles}
                onChange={(e) => setSeedProfiles(e.currentTarget.checked)}
                label="Sandbox: create Braze profiles for these members first (Braze only matches users it already knows)"
              />
            ) : null}
            {save.isError && !(save.error instanceof ApiError && save.error.fieldErrors().cron) ? (
              <Alert color="red" role="alert">
                {(save.error as Error).message}
              </Alert>
            ) : null}
          </Stack>
        </Stepper.Step>
      </Stepper>
      <Group justify="space-between" mt="md">
        <Button variant="default" disabled={step === 0} onClick={() => setStep((s) => s - 1)}>
          Back
        </Button>
        {step < 3 ? (
          <Button onClick={next}>Next</Button>
        ) : (
          <Button onClick={() => save.mutate()} loading={save.isPending}>
            Save
          </Button>
        )}
      </Group>
      {adding ? (
        <TargetModal projectId={p} opened first={targets.length === 0} onClose={() => setAdding(false)} />
      ) : null}
    </Stack>
  );
}
