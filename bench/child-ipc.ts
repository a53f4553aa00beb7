// Request/response over a forked child's IPC channel: the bench keeps the sandbox in a process of its own,
// as Braze is another machine. The child answers id 0 once it is ready.
import { type ForkOptions, fork } from 'node:child_process';

export function forkWithAsk(script: string, args: string[], opts: Pick<ForkOptions, 'serialization'> = {}) {
  const child = fork(script, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...opts,
  });
  const waiting = new Map<number, { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  child.on('message', (raw) => {
    const m = raw as { id: number } & Record<string, unknown>;
    waiting.get(m.id)?.resolve(m);
    waiting.delete(m.id);
  });
  // One exit listener for every question still waiting (one per question would pile up over a long bench).
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`sandbox child exited (${code})`));
    waiting.clear();
  });
  let next = 1;
  const ask = <T>(m: object, id = next++): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null)
        return reject(new Error(`sandbox child exited (${child.exitCode ?? child.signalCode})`));
      waiting.set(id, { resolve: (r) => resolve(r as T), reject });
      if (id !== 0) child.send({ id, ...m });
    });
  return { child, ask };
}
