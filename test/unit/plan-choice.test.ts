// Which plan a run makes (src/domain/incremental.ts): from the change log only on the inputs the acknowledged
// state is known to be a full plan of, and only until a full reconcile is due or asked for.
import { describe, expect, it } from 'vitest';
import { fullPlanReason, type PlanChoiceInput, planBasis } from '../../src/domain/incremental.ts';

const NOW = new Date('2026-12-02T12:00:00.000Z');
const HOUR = 3_600_000;
const basis = planBasis([{ syncId: 'syn_a', mapping: { type: 'user_id' }, active: true }]);
const scheduled: PlanChoiceInput = {
  mode: 'full',
  reconcileAsked: false,
  mappings: [{ type: 'user_id' }],
  basis,
  trustedBasis: basis,
  reconciledAt: new Date(NOW.getTime() - 2 * HOUR).toISOString(),
  now: NOW,
  reconcileEveryMs: 24 * HOUR,
};

describe('fullPlanReason', () => {
  it('lets a scheduled run on a trusted, recently reconciled basis plan from the changes', () => {
    expect(fullPlanReason(scheduled)).toBeNull();
  });

  it('re-reads the cohort when asked, when due, when the inputs changed, and before the first reconcile', () => {
    expect(fullPlanReason({ ...scheduled, reconcileAsked: true })).toBe('asked');
    expect(fullPlanReason({ ...scheduled, reconciledAt: new Date(NOW.getTime() - 24 * HOUR).toISOString() })).toBe(
      'reconcile_due',
    );
    expect(fullPlanReason({ ...scheduled, reconcileEveryMs: 0 })).toBe('reconcile_due');
    expect(fullPlanReason({ ...scheduled, trustedBasis: null, reconciledAt: null })).toBe('inputs_changed');
    const paused = planBasis([{ syncId: 'syn_a', mapping: { type: 'user_id' }, active: false }]);
    expect(fullPlanReason({ ...scheduled, basis: paused })).toBe('inputs_changed');
  });

  it('keeps real-time runs on the changes whatever the basis, and remove-all runs and shared aliases in full', () => {
    expect(fullPlanReason({ ...scheduled, mode: 'incremental', trustedBasis: null, reconcileAsked: true })).toBeNull();
    expect(fullPlanReason({ ...scheduled, mode: 'remove_all' })).toBe('remove_all');
    const alias = { type: 'user_alias' as const, aliasLabel: 'crm', aliasProperty: 'plan' };
    expect(fullPlanReason({ ...scheduled, mappings: [{ type: 'user_id', fallbacks: [alias] }] })).toBe('shared_alias');
    expect(fullPlanReason({ ...scheduled, mode: 'incremental', mappings: [alias] })).toBe('shared_alias');
  });
});

describe('planBasis', () => {
  it('is the same for the same syncs in any order and key order, and differs when any input does', () => {
    const a = {
      syncId: 'syn_a',
      mapping: { type: 'user_alias' as const, aliasLabel: 'l', aliasProperty: 'user_id' },
      active: true,
    };
    const b = { syncId: 'syn_b', mapping: { type: 'device_id' as const }, active: false };
    const reordered = { ...a, mapping: { aliasProperty: 'user_id', aliasLabel: 'l', type: 'user_alias' as const } };
    expect(planBasis([a, b])).toBe(planBasis([b, reordered]));
    expect(planBasis([a, b])).not.toBe(planBasis([a, { ...b, active: true }]));
    expect(planBasis([a, b])).not.toBe(planBasis([a, { ...b, syncId: 'syn_c' }]));
    expect(planBasis([a, b])).not.toBe(planBasis([a, { ...b, mapping: { type: 'user_id' } }]));
    expect(planBasis([a, b])).not.toBe(planBasis([a]));
  });
});
