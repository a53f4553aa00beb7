// The Braze sandbox in a process of its own for the real-time bench (Braze is another machine: it must not
// share the service's event loop). It notes when each identifier first arrives in a membership request.
// Driven over IPC by bench/realtime.ts:
//   → {id, op: 'workspace'}                  ← {id, key}
//   → {id, op: 'arm', key}                   ← {id}          (start noting arrivals in that workspace)
//   → {id, op: 'arrivals'}                   ← {id, added: [userId, epochMs][], removed: [userId, epochMs][], requests}
//   → {id, op: 'size', key, cohortId}        ← {id, userIds: number}
//   → {id, op: 'close'}                      ← {id}, then exits
import { type CohortChange, startSandbox } from '../src/sandbox/index.ts';

type Message =
  | { id: number; op: 'workspace' }
  | { id: number; op: 'arm'; key: string }
  | { id: number; op: 'arrivals' }
  | { id: number; op: 'size'; key: string; cohortId: string }
  | { id: number; op: 'close' };

const sandbox = await startSandbox({ port: 0, requestsPerHour: 250_000 });
const epochMs = () => performance.timeOrigin + performance.now();
const added: [string, number][] = [];
const removed: [string, number][] = [];
let requests = 0;

function arm(key: string): void {
  const ws = sandbox.state.workspace(key);
  const apply = ws.applyChanges.bind(ws);
  ws.applyChanges = (cohortId: string, changes: readonly CohortChange[]) => {
    const at = epochMs();
    requests += 1;
    for (const change of changes)
      for (const id of change.user_ids) (change.should_remove ? removed : added).push([id, at]);
    apply(cohortId, changes);
  };
}

const send = (m: object) => process.send!(m);
process.on('message', (raw) => {
  const m = raw as Message;
  if (m.op === 'workspace') send({ id: m.id, key: sandbox.state.createWorkspace() });
  else if (m.op === 'arm') {
    arm(m.key);
    send({ id: m.id });
  } else if (m.op === 'arrivals') send({ id: m.id, added, removed, requests });
  else if (m.op === 'size')
    send({ id: m.id, userIds: sandbox.state.cohortIdentifiers(m.key, m.cohortId).user_ids.length });
  else if (m.op === 'close') {
    void sandbox.close().then(() => {
      send({ id: m.id });
      process.disconnect();
    });
  }
});

send({ id: 0, url: sandbox.url });
