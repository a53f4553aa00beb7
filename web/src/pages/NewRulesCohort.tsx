// New cohort from rules: an AND of groups, each an OR of conditions ("performed / did not perform EVENT at
// least N times in the last D days, with property filters", or a user property), a live size estimate, and
// the definition read back in plain English before saving.
import {
  ActionIcon,
  Alert,
  Button,
  Group,
  NumberInput,
  Paper,
  SegmentedControl,
  Select,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconPlus, IconX } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { ApiError, api } from '../api/client';
import type { Cohort } from '../api/types';
import { type Condition, describeDefinition, type Op, type Group as RuleGroup, toJson, uid } from '../definition';
import { useProjectId } from '../hooks';

const COUNT_OPS = [
  { value: 'gte', label: 'at least' },
  { value: 'gt', label: 'more than' },
  { value: 'eq', label: 'exactly' },
  { value: 'lte', label: 'at most' },
  { value: 'lt', label: 'fewer than' },
];
const PROP_OPS = [
  { value: 'eq', label: 'is' },
  { value: 'neq', label: 'is not' },
  { value: 'gt', label: '>' },
  { value: 'gte', label: '≥' },
  { value: 'lt', label: '<' },
  { value: 'lte', label: '≤' },
  { value: 'contains', label: 'contains' },
  { value: 'in', label: 'is one of' },
  { value: 'set', label: 'is set' },
  { value: 'not_set', label: 'is not set' },
];

export const newEvent = (): Condition => ({
  key: uid(),
  kind: 'event',
  event: '',
  countOp: 'gte',
  count: 1,
  last: 30,
  unit: 'day',
  where: [],
});
const newUser = (): Condition => ({ key: uid(), kind: 'user', property: '', op: 'eq', value: '' });

/** Problems before asking the server, keyed "g0.c1.event" etc. */
export function ruleProblems(groups: RuleGroup[]): Record<string, string> {
  const out: Record<string, string> = {};
  groups.forEach((g, gi) =>
    g.any.forEach((c, ci) => {
      const at = `g${gi}.c${ci}`;
      if (c.kind === 'event') {
        if (!c.event.trim()) out[`${at}.event`] = 'Name the event';
        if (!Number.isInteger(c.count) || c.count < 0) out[`${at}.count`] = 'A whole number';
        if (!Number.isInteger(c.last) || c.last < 1) out[`${at}.last`] = 'At least 1';
        c.where.forEach((w, wi) => {
          if (!w.property.trim()) out[`${at}.w${wi}`] = 'Name the property';
        });
      } else if (!c.property.trim()) out[`${at}.property`] = 'Name the user property';
    }),
  );
  return out;
}

function ConditionRow({
  c,
  at,
  errors,
  negated,
  onChange,
  onRemove,
}: {
  c: Condition;
  at: string;
  errors: Record<string, string>;
  negated: boolean;
  onChange: (c: Condition) => void;
  onRemove: () => void;
}) {
  return (
    <Paper withBorder p="xs">
      <Group align="flex-start" gap="xs" wrap="nowrap">
        <Stack gap={6} style={{ flex: 1 }}>
          {c.kind === 'event' ? (
            <>
              <Group gap="xs" align="flex-start">
                <Text size="sm" mt={6}>
                  {negated ? 'did not perform' : 'performed'}
                </Text>
                <TextInput
                  aria-label="Event"
                  placeholder="Event, e.g. Purchase"
                  value={c.event}
                  onChange={(e) => onChange({ ...c, event: e.currentTarget.value })}
                  error={errors[`${at}.event`]}
                  w={180}
                />
                <Select
                  aria-label="Count is"
                  data={COUNT_OPS}
                  value={c.countOp}
                  onChange={(v) => v && onChange({ ...c, countOp: v as Op })}
                  allowDeselect={false}
                  w={120}
                />
                <NumberInput
                  aria-label="Count"
                  value={c.count}
                  min={0}
                  onChange={(v) => onChange({ ...c, count: Number(v) })}
                  error={errors[`${at}.count`]}
                  w={80}
                />
                <Text size="sm" mt={6}>
                  times in the last
                </Text>
                <NumberInput
                  aria-label="Days"
                  value={c.last}
                  min={1}
                  onChange={(v) => onChange({ ...c, last: Number(v) })}
                  error={errors[`${at}.last`]}
                  w={80}
                />
                <Select
                  aria-label="Unit"
                  data={[
                    { value: 'day', label: 'days' },
                    { value: 'hour', label: 'hours' },
                    { value: 'minute', label: 'minutes' },
                  ]}
                  value={c.unit}
                  onChange={(v) => v && onChange({ ...c, unit: v as 'day' })}
                  allowDeselect={false}
                  w={110}
                />
              </Group>
              {c.where.map((w, wi) => (
                <Group key={w.key} gap="xs" pl="md" align="flex-start">
                  <Text size="sm" mt={6}>
                    where
                  </Text>
                  <TextInput
                    aria-label="Event property"
                    placeholder="property"
                    value={w.property}
                    onChange={(e) =>
                      onChange({
                        ...c,
                        where: c.where.map((x, i) => (i === wi ? { ...x, property: e.currentTarget.value } : x)),
                      })
                    }
                    error={errors[`${at}.w${wi}`]}
                    w={150}
                  />
                  <Select
                    aria-label="Operator"
                    data={PROP_OPS}
                    value={w.op}
                    onChange={(v) =>
                      v && onChange({ ...c, where: c.where.map((x, i) => (i === wi ? { ...x, op: v as Op } : x)) })
                    }
                    allowDeselect={false}
                    w={120}
                  />
                  <TextInput
                    aria-label="Value"
                    placeholder="value"
                    value={w.value}
                    onChange={(e) =>
                      onChange({
                        ...c,
                        where: c.where.map((x, i) => (i === wi ? { ...x, value: e.currentTarget.value } : x)),
                      })
                    }
                    w={150}
                  />
                  <ActionIcon
                    variant="subtle"
                    aria-label="Remove property filter"
                    mt={4}
                    onClick={() => onChange({ ...c, where: c.where.filter((_, i) => i !== wi) })}
                  >
                    <IconX size={14} />
                  </ActionIcon>
                </Group>
              ))}
              <Group pl="md">
                <Button
                  size="compact-xs"
                  variant="subtle"
                  onClick={() =>
                    onChange({ ...c, where: [...c.where, { key: uid(), property: '', op: 'eq', value: '' }] })
                  }
                >
                  + property filter
                </Button>
              </Group>
            </>
          ) : (
            <Group gap="xs" align="flex-start">
              <Text size="sm" mt={6}>
                {negated ? 'not: user property' : 'user property'}
              </Text>
              <TextInput
                aria-label="User property"
                placeholder="e.g. country"
                value={c.property}
                onChange={(e) => onChange({ ...c, property: e.currentTarget.value })}
                error={errors[`${at}.property`]}
                w={160}
              />
              <Select
                aria-label="Operator"
                data={PROP_OPS}
                value={c.op}
                onChange={(v) => v && onChange({ ...c, op: v as Op })}
                allowDeselect={false}
                w={120}
              />
              {c.op !== 'set' && c.op !== 'not_set' ? (
                <TextInput
                  aria-label="Value"
                  placeholder="value"
                  value={c.value}
                  onChange={(e) => onChange({ ...c, value: e.currentTarget.value })}
                  w={160}
                />
              ) : null}
            </Group>
          )}
        </Stack>
        <ActionIcon variant="subtle" color="red" aria-label="Remove condition" onClick={onRemove}>
          <IconX size={16} />
        </ActionIcon>
      </Group>
    </Paper>
  );
}

export function NewRulesCohort() {
  const p = useProjectId();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [groups, setGroups] = useState<RuleGroup[]>(() => [{ key: uid(), not: false, any: [newEvent()] }]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const definition = toJson(groups);
  // The estimate follows the rules as they were 400 ms ago, complete or not, so it never asks for a draft.
  const [settled] = useDebouncedValue(groups, 400);
  const debounced = toJson(settled);
  const complete = Object.keys(ruleProblems(settled)).length === 0;
  const estimate = useQuery({
    queryKey: ['estimate', p, JSON.stringify(debounced)],
    queryFn: () =>
      api<{ size: number }>(`/projects/${p}/cohorts/estimate`, { method: 'POST', body: { definition: debounced } }),
    enabled: complete,
    placeholderData: keepPreviousData,
    retry: false,
  });
  const save = useMutation({
    mutationFn: () =>
      api<Cohort>(`/projects/${p}/cohorts`, {
        method: 'POST',
        body: { name: name.trim(), type: 'behavioral', definition },
      }),
    onSuccess: async (c) => {
      await qc.invalidateQueries({ queryKey: ['cohorts', p] });
      navigate(`/p/${p}/cohorts/${c.id}`);
    },
    onError: (e) => {
      if (e instanceof ApiError && e.fieldErrors().name) setErrors({ name: e.fieldErrors().name ?? e.message });
    },
  });
  const setGroup = (gi: number, g: RuleGroup) => setGroups((gs) => gs.map((x, i) => (i === gi ? g : x)));
  return (
    <Stack maw={1040}>
      <Title order={2}>New cohort from rules</Title>
      <TextInput
        label="Cohort name"
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
        error={errors.name}
        maw={420}
      />
      {groups.map((g, gi) => (
        <Paper key={g.key} withBorder p="sm" bg="gray.0">
          <Group justify="space-between" mb="xs">
            <Group gap="xs">
              <Text fw={600} size="sm">
                {gi === 0 ? 'Users who' : 'and who'}
              </Text>
              <SegmentedControl
                aria-label={`Group ${gi + 1} includes or excludes`}
                size="xs"
                value={g.not ? 'not' : 'any'}
                onChange={(v) => setGroup(gi, { ...g, not: v === 'not' })}
                data={[
                  { value: 'any', label: 'match any of' },
                  { value: 'not', label: 'match none of' },
                ]}
              />
            </Group>
            {groups.length > 1 ? (
              <Button
                size="compact-xs"
                variant="subtle"
                color="red"
                onClick={() => setGroups((gs) => gs.filter((_, i) => i !== gi))}
              >
                Remove group
              </Button>
            ) : null}
          </Group>
          <Stack gap="xs">
            {g.any.map((c, ci) => (
              <Stack key={c.key} gap={4}>
                {ci > 0 ? (
                  <Text size="xs" fw={600} c="dimmed">
                    {g.not ? 'NOR' : 'OR'}
                  </Text>
                ) : null}
                <ConditionRow
                  c={c}
                  at={`g${gi}.c${ci}`}
                  errors={errors}
                  negated={g.not}
                  onChange={(next) => setGroup(gi, { ...g, any: g.any.map((x, i) => (i === ci ? next : x)) })}
                  onRemove={() => setGroup(gi, { ...g, any: g.any.filter((_, i) => i !== ci) })}
                />
              </Stack>
            ))}
            <Group gap="xs">
              <Button
                size="compact-sm"
                variant="light"
                leftSection={<IconPlus size={14} />}
                onClick={() => setGroup(gi, { ...g, any: [...g.any, newEvent()] })}
              >
                Event condition
              </Button>
              <Button
                size="compact-sm"
                variant="light"
                leftSection={<IconPlus size={14} />}
                onClick={() => setGroup(gi, { ...g, any: [...g.any, newUser()] })}
              >
                User property condition
              </Button>
            </Group>
          </Stack>
        </Paper>
      ))}
      <Group>
        <Button
          variant="default"
          leftSection={<IconPlus size={16} />}
          onClick={() => setGroups((gs) => [...gs, { key: uid(), not: false, any: [newEvent()] }])}
        >
          AND group
        </Button>
      </Group>
      <Paper withBorder p="md">
        <Text fw={600} size="sm" mb={4}>
          In plain English
        </Text>
        <Text size="sm" data-testid="plain-english">
          {describeDefinition(definition)}
        </Text>
        <Text size="sm" mt="sm" aria-live="polite" data-testid="estimate">
          {!complete
            ? 'Complete the conditions to see an estimate.'
            : estimate.data
              ? `About ${estimate.data.size.toLocaleString()} users match now.`
              : estimate.isError
                ? `No estimate: ${(estimate.error as Error).message}`
                : 'Estimating…'}
        </Text>
      </Paper>
      {save.isError && !errors.name ? (
        <Alert color="red" role="alert">
          {(save.error as Error).message}
        </Alert>
      ) : null}
      <Group>
        <Button
          onClick={() => {
            const problems = ruleProblems(groups);
            if (!name.trim()) problems.name = 'Give the cohort a name';
            setErrors(problems);
            if (Object.keys(problems).length === 0) save.mutate();
          }}
          loading={save.isPending}
        >
          Save
        </Button>
      </Group>
    </Stack>
  );
}
