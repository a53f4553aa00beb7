// The event source of the behavioral latency bench, in a process of its own (apps sending events are other
// machines): POSTs Amplitude /2/httpapi batches at a steady rate — background View events of a pool of
// users — and, every `probeEveryMs`, one Purchase of a new user (a probe) inside a batch, noting when each
// probe's request was sent. Args: url apiKey eventsPerSecond seconds batchSize probeEveryMs. Prints one
// JSON line: {probes: [[userId, sentEpochMs]], sent, failed, statuses}.
const [url, apiKey, rateText, secondsText, batchText, probeText] = process.argv.slice(2);
const rate = Number(rateText);
const seconds = Number(secondsText);
const batchSize = Number(batchText);
const probeEveryMs = Number(probeText);
const POOL = 10_000;

const epochMs = () => performance.timeOrigin + performance.now();
const requestsPerSecond = rate / batchSize;
const total = Math.round(requestsPerSecond * seconds);
const probes: [string, number][] = [];
const statuses: Record<string, number> = {};
let sent = 0;
let failed = 0;
let nextProbeAt = 0;
let probeCount = 0;
const inflight = new Set<Promise<void>>();
const start = performance.now();

for (let r = 0; r < total; r++) {
  const due = start + (r * 1000) / requestsPerSecond;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  const now = Date.now();
  const events: Record<string, unknown>[] = [];
  for (let k = 0; k < batchSize; k++) {
    const n = r * batchSize + k;
    events.push({
      event_type: 'View',
      user_id: `bg-user-${(n * 7919) % POOL}`,
      time: now,
      insert_id: `v-${n}`,
      event_properties: { page: `/p/${n % 50}` },
    });
  }
  let probe: string | null = null;
  if (performance.now() - start >= nextProbeAt) {
    probe = `probe-${probeCount++}`;
    nextProbeAt += probeEveryMs;
    events[0] = { event_type: 'Purchase', user_id: probe, time: now, insert_id: `p-${probe}` };
  }
  const at = epochMs();
  if (probe) probes.push([probe, at]);
  const p = fetch(`${url}/2/httpapi`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: apiKey, events }),
  })
    .then(async (res) => {
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      await res.arrayBuffer();
      sent += events.length;
    })
    .catch(() => {
      failed += events.length;
    })
    .finally(() => inflight.delete(p));
  inflight.add(p);
}
await Promise.all(inflight);
const elapsed = (performance.now() - start) / 1000;
process.stdout.write(`${JSON.stringify({ probes, sent, failed, statuses, elapsed })}\n`);
