// The words of docs/ui.md for sync and run status, as badges.
import { Badge } from '@mantine/core';
import type { Run, Sync } from '../api/types';

export type SyncStatus = 'Pending' | 'Healthy' | 'Warning' | 'Failing' | 'Running' | 'Paused';
export type RunStatusWord = 'Queued' | 'Running' | 'Succeeded' | 'Partial' | 'Failed' | 'Cancelled';

export function runStatusWord(run: Run): RunStatusWord {
  switch (run.status) {
    case 'queued':
      return 'Queued';
    case 'running':
      return 'Running';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
    default:
      return run.counts.failed > 0 ? 'Partial' : 'Succeeded';
  }
}

export function syncStatus(sync: Sync): SyncStatus {
  if (sync.paused) return 'Paused';
  const run = sync.lastRun;
  if (!run) return 'Pending';
  const word = runStatusWord(run);
  if (word === 'Queued' || word === 'Running') return 'Running';
  if (word === 'Failed') return 'Failing';
  if (word === 'Partial') return 'Warning';
  return word === 'Cancelled' ? 'Pending' : 'Healthy';
}

const COLOR: Record<SyncStatus | RunStatusWord, string> = {
  Pending: 'gray',
  Healthy: 'green',
  Warning: 'yellow',
  Failing: 'red',
  Running: 'blue',
  Paused: 'gray',
  Queued: 'gray',
  Succeeded: 'green',
  Partial: 'yellow',
  Failed: 'red',
  Cancelled: 'gray',
};

export function StatusBadge({ word }: { word: SyncStatus | RunStatusWord }) {
  return (
    <Badge color={COLOR[word]} variant="light" radius="sm" tt="none">
      {word}
    </Badge>
  );
}

export const CADENCE: Record<string, string> = {
  one_time: 'One-Time',
  hourly: 'Hourly',
  daily: 'Daily',
  cron: 'Cron',
  real_time: 'Real-Time',
};

export const MAPPING: Record<string, string> = { user_id: 'user_id', device_id: 'device_id', user_alias: 'User alias' };
