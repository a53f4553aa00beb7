// Request/response over a forked child's IPC channel: the bench keeps the sandbox in a process of its own,
// as Braze is another machine. The child answers id 0 once it is ready.
import { type ForkOptions, fork } from 'node:child_process';

export function forkWithAsk(script: string, args: string[], opts: Pick<ForkOptions, 'serialization'> = {}) {
  const child = fork(script, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...opts,
  });
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  child.on('message', (raw) => {
    const m = raw as { id: number } & Record<string, unknown>;
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  let next = 1;
  const ask = <T>(m: object, id = next++): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      waiting.set(id, (r) => resolve(r as T));
      child.once('exit', (code) => reject(new Error(`sandbox child exited (${code})`)));
      if (id !== 0) child.send({ id, ...m });
    });
  return { child, ask };
}
