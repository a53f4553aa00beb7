// Peak resident set size of this process: VmHWM from /proc (Linux), else resourceUsage().maxRSS.
import { readFileSync } from 'node:fs';

export function peakRssMb(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m?.[1]) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** Current resident set size of this process (VmRSS), in MB. */
export function currentRssMb(): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m?.[1]) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage.rss() / (1024 * 1024);
}
