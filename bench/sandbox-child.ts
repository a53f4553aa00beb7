// The Braze sandbox in a process of its own for the delivery bench: Braze is another machine, so it must not
// share the executor's event loop (nor its CPU time). Driven over IPC by bench/delivery.ts:
//   → {id, op: 'workspace'}                          ← {id, key}
//   → {id, op: 'report'}                             ← {id, answered: [epochMs, status][], stats, peakRssMb, cpu}
//   → {id, op: 'ids', key, cohortId, offset, limit}  ← {id, userIds, total}: the cohort's raw user ids, sorted, one page
//   → {id, op: 'close'}                              ← {id}, then exits
// Identifiers come in pages: at 10M one message of them all would hold a second copy of every id in each process.
import { type LoggedRequest, startSandbox } from '../src/sandbox/index.ts';
import { peakRssMb } from './rss.ts';

type Message =
  | { id: number; op: 'workspace' }
  | { id: number; op: 'report' }
  | { id: number; op: 'ids'; key: string; cohortId: string; offset: number; limit: number }
  | { id: number; op: 'close' };

const requestsPerHour = Number(process.argv[2]);
const sandbox = await startSandbox({ port: 0, requestsPerHour });
const epochMs = () => performance.timeOrigin + performance.now();

// Every membership answer, timed when the sandbox records it (its own log keeps only the last 1,000), and
// this process's CPU time from the first answer to the last: what Braze's stand-in costs on the shared cores.
const answered: [number, number][] = [];
let cpuAtFirst: NodeJS.CpuUsage | null = null;
let cpuAtLast: NodeJS.CpuUsage | null = null;
const record = sandbox.state.log.record.bind(sandbox.state.log);
sandbox.state.log.record = (entry: LoggedRequest) => {
  if (entry.path.endsWith('/cohorts/users')) {
    answered.push([epochMs(), entry.status]);
    cpuAtFirst ??= process.cpuUsage();
    cpuAtLast = process.cpuUsage();
  }
  record(entry);
};

let sorted: { key: string; ids: string[] } | null = null;
const send = (m: object) => process.send!(m);

process.on('message', (raw) => {
  const m = raw as Message;
  if (m.op === 'workspace') send({ id: m.id, key: sandbox.state.createWorkspace() });
  else if (m.op === 'report') {
    const [first, last] = [cpuAtFirst, cpuAtLast];
    const cpuMs = first && last ? (last.user + last.system - first.user - first.system) / 1000 : 0;
    send({ id: m.id, answered, stats: sandbox.state.stats(), peakRssMb: peakRssMb(), cpuMs });
  } else if (m.op === 'ids') {
    const key = `${m.key}/${m.cohortId}`;
    if (sorted?.key !== key) sorted = { key, ids: sandbox.state.cohortIdentifiers(m.key, m.cohortId).user_ids };
    send({ id: m.id, userIds: sorted.ids.slice(m.offset, m.offset + m.limit), total: sorted.ids.length });
  } else if (m.op === 'close') {
    void sandbox.close().then(() => {
      send({ id: m.id });
      process.disconnect();
    });
  }
});

send({ id: 0, url: sandbox.url });
