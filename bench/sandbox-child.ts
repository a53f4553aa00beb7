// The Braze sandbox in a process of its own for the delivery bench: Braze is another machine, so it must not
// share the executor's event loop (nor its CPU time). Driven over IPC by bench/delivery.ts:
//   → {id, op: 'workspace'}                   ← {id, key}
//   → {id, op: 'report', key, cohortId}       ← {id, answered: [epochMs, status][], userIds, stats, peakRssMb}
//   → {id, op: 'close'}                        ← {id}, then exits
import { type LoggedRequest, startSandbox } from '../src/sandbox/index.ts';
import { peakRssMb } from './rss.ts';

type Message =
  | { id: number; op: 'workspace' }
  | { id: number; op: 'report'; key: string; cohortId: string }
  | { id: number; op: 'close' };

const requestsPerHour = Number(process.argv[2]);
const sandbox = await startSandbox({ port: 0, requestsPerHour });
const epochMs = () => performance.timeOrigin + performance.now();

// Every membership answer, timed when the sandbox records it (its own log keeps only the last 1,000).
const answered: [number, number][] = [];
const record = sandbox.state.log.record.bind(sandbox.state.log);
sandbox.state.log.record = (entry: LoggedRequest) => {
  if (entry.path.endsWith('/cohorts/users')) answered.push([epochMs(), entry.status]);
  record(entry);
};

const send = (m: object) => process.send!(m);

process.on('message', (raw) => {
  const m = raw as Message;
  if (m.op === 'workspace') send({ id: m.id, key: sandbox.state.createWorkspace() });
  else if (m.op === 'report') {
    const userIds = sandbox.state.cohortIdentifiers(m.key, m.cohortId).user_ids;
    send({ id: m.id, answered, userIds, stats: sandbox.state.stats(), peakRssMb: peakRssMb() });
  } else if (m.op === 'close') {
    void sandbox.close().then(() => {
      send({ id: m.id });
      process.disconnect();
    });
  }
});

send({ id: 0, url: sandbox.url });
