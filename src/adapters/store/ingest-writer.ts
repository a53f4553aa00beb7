// SQLite ingestion's writes on a thread of their own. Node runs requests on one thread, and on SQLite the
// store's work ran there too: parsing and answering requests and writing their events shared one core,
// which capped ingestion at about 1e6 / (service µs per event) events/s (docs/benchmarks.md "Ingestion").
// Here the main thread validates and answers HTTP while a worker thread with its own connection (WAL: readers
// on the main connection see each commit) runs the same KyselyEventStore — group commit, dedupe, identity —
// on the second core. Other writers on the main connection take the write lock between the worker's
// transactions (busy_timeout, busy-retry.ts); the worker waits for theirs the same way, on its own thread.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type EventStore,
  type EventToStore,
  type IdentifyUpdate,
  type StoredOutcome,
  StoreUnavailableError,
} from '../../ports/event-store.ts';
import type { BehavioralRepo } from '../../ports/store.ts';

/** The behavioral repo's methods that run on the writer's connection: evaluations write; the rest only read. */
type WriterEvaluation = 'evaluate' | 'evaluateMany' | 'existingProfiles';

/** What crosses to the worker: a call of the event store's write operations, or of behavioral evaluation. */
export type WriterCall =
  | { readonly id: number; readonly op: 'ingest'; readonly args: Parameters<EventStore['ingest']> }
  | { readonly id: number; readonly op: 'identify'; readonly args: Parameters<EventStore['identify']> }
  | {
      [M in WriterEvaluation]: {
        readonly id: number;
        readonly op: 'behavioral';
        readonly method: M;
        readonly args: Parameters<BehavioralRepo[M]>;
      };
    }[WriterEvaluation]
  | { readonly id: number; readonly op: 'pragma'; readonly args: [string] };

/** A call before its id is given (Omit over each member of the union, not over their common keys). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

/** What comes back: the outcome, or the error as data (class and driver code do not survive the crossing). */
export type WriterReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { message: string; code?: string; unavailable: boolean };
    };

export interface WriterData {
  readonly file: string;
  readonly busyTimeoutMs?: number;
}

// The worker's entry loads the TypeScript worker body through tsx's API, so it loads the same way under
// `tsx`, `node --import tsx` (npm start) and the test runner, whatever loader the parent process has.
const BOOT = `
const { workerData } = require('node:worker_threads');
import(workerData.tsx).then(({ tsImport }) => tsImport(workerData.body, workerData.body));
`;

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The EventStore whose writes run on the worker; reads and pruning stay on `local` (the main connection). */
export class ThreadedEventStore implements EventStore {
  private worker: Worker | null = null;
  private started: Promise<Worker> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly local: EventStore,
    private readonly data: WriterData,
  ) {}

  projectOfIngestKey(hash: string): Promise<string | undefined> {
    return this.local.projectOfIngestKey(hash);
  }

  ingest(
    projectId: string,
    events: readonly EventToStore[],
    at: { receivedMs: number; now: string; dedupeSinceMs: number },
  ): Promise<StoredOutcome> {
    return this.call({ op: 'ingest', args: [projectId, events, at] }) as Promise<StoredOutcome>;
  }

  identify(projectId: string, updates: readonly IdentifyUpdate[], now: string): Promise<StoredOutcome> {
    return this.call({ op: 'identify', args: [projectId, updates, now] }) as Promise<StoredOutcome>;
  }

  pruneEvents(projectId: string, beforeMs: number, limit: number): Promise<number> {
    return this.local.pruneEvents(projectId, beforeMs, limit);
  }

  pruneDedupe(beforeMs: number, limit: number): Promise<number> {
    return this.local.pruneDedupe(beforeMs, limit);
  }

  /**
   * The behavioral repo whose evaluations (the real-time passes, the window sweeps) run on the writer's
   * connection too; its reads stay on `local`. An evaluation writes work tables and memberships: on the main
   * connection it would wait for the writer's lock and make the writer wait for its own, every pass.
   */
  behavioralOver(local: BehavioralRepo): BehavioralRepo {
    const onWriter = <M extends WriterEvaluation>(method: M) =>
      ((...args: Parameters<BehavioralRepo[M]>) =>
        this.call({ op: 'behavioral', method, args } as Unnumbered<WriterCall>)) as unknown as BehavioralRepo[M];
    return {
      evaluate: onWriter('evaluate'),
      evaluateMany: onWriter('evaluateMany'),
      existingProfiles: onWriter('existingProfiles'),
      estimate: local.estimate.bind(local),
      conditionCounts: local.conditionCounts.bind(local),
      sweptTo: local.sweptTo.bind(local),
      sizeHistory: local.sizeHistory.bind(local),
      forget: local.forget.bind(local),
    };
  }

  /** Runs a PRAGMA on the writer's connection (a store made read-only must be so for the writer too); its rows. */
  async pragma(text: string): Promise<unknown[]> {
    return (await this.call({ op: 'pragma', args: [text] })) as unknown[];
  }

  private closing: Promise<void> | null = null;

  /** Lets the calls under way finish, then closes the writer's connection and ends its thread (once). */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.closed = true;
    const worker = await this.started?.catch(() => null);
    if (!worker) return;
    await Promise.allSettled(
      [...this.pending.values()].map(
        (p) =>
          new Promise<void>((done) => {
            const { resolve, reject } = p;
            p.resolve = (v) => (resolve(v), done());
            p.reject = (e) => (reject(e), done());
          }),
      ),
    );
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    await exited;
  }

  private async call(call: Unnumbered<WriterCall>): Promise<unknown> {
    if (this.closed) throw new StoreUnavailableError('the store is closed');
    const worker = await this.start();
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...call, id });
    });
  }

  /** The worker, started at the first write (short-lived stores — CLI commands, most tests — never pay it). */
  private start(): Promise<Worker> {
    if (this.started) return this.started;
    const require = createRequire(import.meta.url);
    const worker = new Worker(BOOT, {
      eval: true,
      workerData: {
        ...this.data,
        // The ESM build of tsx's API (require.resolve would name its CommonJS one).
        tsx: pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href,
        body: new URL('./ingest-writer-thread.ts', import.meta.url).href,
      },
    });
    this.started = new Promise<Worker>((resolve, reject) => {
      worker.once('message', (m: unknown) => (m === 'ready' ? resolve(worker) : reject(new Error(String(m)))));
      worker.once('error', reject);
    });
    this.worker = worker;
    worker.on('message', (m: WriterReply | 'ready') => {
      if (m === 'ready') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(toError(m.error));
    });
    const lost = (why: string) => {
      // A writer that died fails what it had; the next write starts another.
      for (const p of this.pending.values()) p.reject(new StoreUnavailableError(`ingestion writer ${why}`));
      this.pending.clear();
      if (this.worker === worker) {
        this.worker = null;
        if (!this.closed) this.started = null;
      }
    };
    worker.on('error', (e) => lost(`failed: ${e.message}`));
    worker.on('exit', (code) => lost(`exited (${code})`));
    return this.started;
  }
}

function toError(e: { message: string; code?: string; unavailable: boolean }): Error {
  if (e.unavailable) return new StoreUnavailableError(e.message);
  return Object.assign(new Error(e.message), e.code === undefined ? {} : { code: e.code });
}
