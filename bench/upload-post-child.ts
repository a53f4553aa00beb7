// The client of the upload bench's `POST …/members` part, in a process of its own: a real client is another
// machine, so building and serialising its bodies must not be timed, nor run on the server's event loop.
// Arguments: bodies, members per body, then one prefix per set of bodies. Every set is built (JSON text, new
// user ids `<prefix>_<body>_<i>`) before the child says it is ready; each ask { prefix, url, path, token } then
// sends that set's bodies one after another, a 503 store_busy retried after its Retry-After as a client
// should, and answers { seconds, busyRetries } — the time from the first request to the last answer.
import { argv } from 'node:process';

const [bodies, perBody] = [Number(argv[2]), Number(argv[3])];
const sets = new Map<string, string[]>();
for (const prefix of argv.slice(4))
  sets.set(
    prefix,
    Array.from({ length: bodies }, (_, b) =>
      JSON.stringify({ add: Array.from({ length: perBody }, (_, i) => ({ user_id: `${prefix}_${b}_${i}` })) }),
    ),
  );

interface Ask {
  readonly id: number;
  readonly prefix: string;
  readonly url: string;
  readonly path: string;
  readonly token: string;
}

/** Sends one body; resolves to the number of 503s retried. */
async function post(ask: Ask, body: string): Promise<number> {
  for (let retries = 0; ; retries++) {
    const res = await fetch(new URL(ask.path, ask.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${ask.token}`, 'content-type': 'application/json' },
      body,
    });
    const text = await res.text();
    if (res.status === 503 && retries < 60) {
      await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
      continue;
    }
    if (!res.ok) throw new Error(`POST ${ask.path}: ${res.status} ${text.slice(0, 300)}`);
    return retries;
  }
}

process.on('message', (raw) => {
  const ask = raw as Ask;
  void (async () => {
    const set = sets.get(ask.prefix);
    if (!set) throw new Error(`no bodies built for prefix ${ask.prefix}`);
    let busyRetries = 0;
    const start = performance.now();
    for (const body of set) busyRetries += await post(ask, body);
    process.send?.({ id: ask.id, seconds: (performance.now() - start) / 1000, busyRetries });
  })().catch((e: unknown) => process.send?.({ id: ask.id, error: String(e) }));
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0 });
