// The event source of the ingestion bench, in a process of its own (apps are other machines): `concurrency`
// senders each POST /2/httpapi batches of `batch` SDK-shaped events back to back for `seconds`, like
// Amplitude's Node SDK flushing full queues (200 events by default). Users come from a pool; each has a
// device. Args: url apiKey seconds batch concurrency pool [warm]. `warm` first sends one event of every
// pool user (so the run measures returning users, as a live app mostly sees). Prints one JSON line.
import { sdkEvent } from './sdk-event.ts';

const [url, apiKey, secondsText, batchText, concurrencyText, poolText, warm] = process.argv.slice(2);
const seconds = Number(secondsText);
const batchSize = Number(batchText);
const concurrency = Number(concurrencyText);
const pool = Number(poolText);
const event = sdkEvent;

async function post(events: unknown[]): Promise<number> {
  const r = await fetch(`${url}/2/httpapi`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: apiKey, events, options: { min_id_length: 5 } }),
  });
  const body = (await r.json()) as { code?: number };
  return body.code === r.status ? r.status : -r.status;
}

if (warm === 'warm') {
  for (let u = 0; u < pool; u += batchSize) {
    const now = Date.now();
    await post(Array.from({ length: Math.min(batchSize, pool - u) }, (_, i) => event(u + i, now, 'Signed Up')));
  }
}

const statuses: Record<string, number> = {};
let accepted = 0;
let requests = 0;
const latencies: number[] = [];
const started = performance.now();
const cpu0 = process.cpuUsage();
const until = started + seconds * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      const now = Date.now();
      const events = Array.from({ length: batchSize }, () => event(Math.floor(Math.random() * pool), now));
      const t0 = performance.now();
      const status = await post(events);
      latencies.push(performance.now() - t0);
      requests += 1;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) accepted += events.length;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? 0;
console.log(
  JSON.stringify({
    accepted,
    requests,
    elapsed,
    statuses,
    p50Ms: pct(50),
    p95Ms: pct(95),
    p99Ms: pct(99),
    cpuUs: cpu.user + cpu.system,
  }),
);
