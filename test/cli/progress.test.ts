import { describe, expect, it } from 'vitest';
import { progressLine, runProgress } from '../../src/entry/cli/resources/progress.ts';

describe('runProgress', () => {
  it("prefers the run's own progress", () => {
    expect(runProgress({ status: 'running', progress: { done: 5, total: 20 }, counts: { added: 1 } })).toEqual({
      status: 'running',
      done: 5,
      total: 20,
    });
  });

  it('caps done at total', () => {
    expect(runProgress({ status: 'running', progress: { done: 25, total: 20 } }).done).toBe(20);
  });

  it('falls back to members processed so far, total unknown', () => {
    expect(runProgress({ status: 'running', counts: { added: 3, removed: 2, skipped: 1, failed: 0 } })).toEqual({
      status: 'running',
      done: 6,
      total: null,
    });
    expect(runProgress({ status: 'queued' })).toEqual({ status: 'queued', done: 0, total: null });
  });
});

describe('progressLine', () => {
  it('draws a bar when the total is known', () => {
    expect(progressLine({ status: 'running', done: 5, total: 10 }, 10)).toBe('running   [█████░░░░░] 50% 5/10');
  });

  it('shows a finished empty run as complete', () => {
    expect(progressLine({ status: 'succeeded', done: 0, total: 0 }, 4)).toBe('succeeded [████] 100% 0/0');
    expect(progressLine({ status: 'running', done: 0, total: 0 }, 4)).toBe('running   [░░░░] 0% 0/0');
  });

  it('counts members when the total is unknown', () => {
    expect(progressLine({ status: 'running', done: 7, total: null })).toBe('running   7 members processed');
  });
});
