// A time in the browser's zone, with the UTC time on hover (docs/ui.md "States").
import { Tooltip } from '@mantine/core';
import dayjs from 'dayjs';

export function utcText(iso: string): string {
  return `${new Date(iso).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

export function Time({ at, fallback = '—' }: { at: string | null | undefined; fallback?: string }) {
  if (!at) return <span>{fallback}</span>;
  return (
    <Tooltip label={utcText(at)} withArrow>
      <time dateTime={at}>{dayjs(at).format('YYYY-MM-DD HH:mm:ss')}</time>
    </Tooltip>
  );
}
