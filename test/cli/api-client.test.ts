// The client against a real HTTP server on a free port: what goes over the wire and how answers map to errors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiClient,
  ApiError,
  ClientError,
  isLocalUrl,
  resolveToken,
} from '../../src/entry/cli/resources/api-client.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const path = (req.url ?? '').split('?')[0];
      if (path === '/ok') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ items: [{ id: 'p1' }], nextCursor: null }));
      } else if (path === '/gone') {
        res.writeHead(204).end();
      } else if (path === '/bad') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: {
              code: 'invalid_input',
              message: 'name is missing',
              details: [{ path: 'name', message: 'required' }],
            },
          }),
        );
      } else if (path === '/auth') {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'unauthorized', message: 'a bearer token is required' } }));
      } else if (path === '/html') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
      } else if (path === '/notjson') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hello</h1>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echoed: true }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('ApiClient', () => {
  it('sends the bearer token and encoded query, and parses JSON', async () => {
    const client = new ApiClient({ url: base, token: 'tok_1234567890abcdef' });
    const body = await client.get('/ok', { status: 'failed', q: 'a b&c', skip: undefined });
    expect(body).toEqual({ items: [{ id: 'p1' }], nextCursor: null });
    const last = seen.at(-1)!;
    expect(last.headers.authorization).toBe('Bearer tok_1234567890abcdef');
    expect(last.url).toBe('/ok?status=failed&q=a+b%26c');
  });

  it('sends JSON bodies with their content type', async () => {
    const client = new ApiClient({ url: base, token: undefined });
    await client.post('/echo', { name: 'Acme' });
    const last = seen.at(-1)!;
    expect(last.method).toBe('POST');
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers.authorization).toBeUndefined();
    expect(JSON.parse(last.body)).toEqual({ name: 'Acme' });
  });

  it('streams a body with the given content type', async () => {
    const client = new ApiClient({ url: base, token: 't' });
    const csv = 'user_id\nu1\nu2\n';
    const stream = Readable.toWeb(
      Readable.from([Buffer.from(csv.slice(0, 8)), Buffer.from(csv.slice(8))]),
    ) as ReadableStream<Uint8Array>;
    await client.request('PUT', '/upload', { body: stream, contentType: 'text/csv' });
    const last = seen.at(-1)!;
    expect(last.method).toBe('PUT');
    expect(last.headers['content-type']).toBe('text/csv');
    expect(last.body).toBe(csv);
  });

  it('gives null for 204', async () => {
    expect(await new ApiClient({ url: base, token: 't' }).delete('/gone')).toBeNull();
  });

  it('turns the error envelope into an ApiError with code, message and details', async () => {
    const error = await new ApiClient({ url: base, token: 't' }).post('/bad', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      code: 'invalid_input',
      message: 'name is missing',
      details: [{ path: 'name', message: 'required' }],
    });
  });

  it('adds a hint to a 401 when no token was sent, and not otherwise', async () => {
    const without = await new ApiClient({ url: base, token: undefined }).get('/auth').catch((e: unknown) => e);
    expect((without as ApiError).message).toMatch(/no token: pass --token or set COHORT_SYNC_TOKEN/);
    const withToken = await new ApiClient({ url: base, token: 'wrong' }).get('/auth').catch((e: unknown) => e);
    expect((withToken as ApiError).message).toBe('a bearer token is required');
  });

  it('reports answers that are not the API', async () => {
    const error = await new ApiClient({ url: base, token: 't' }).get('/html').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'http_502' });
    await expect(new ApiClient({ url: base, token: 't' }).get('/notjson')).rejects.toThrow(ClientError);
  });

  it('says plainly when nothing listens', async () => {
    const idle = createServer();
    await new Promise<void>((r) => idle.listen(0, '127.0.0.1', r));
    const port = (idle.address() as AddressInfo).port;
    await new Promise<void>((r) => idle.close(() => r()));
    await expect(new ApiClient({ url: `http://127.0.0.1:${port}`, token: 't' }).get('/ok')).rejects.toThrow(
      /could not reach cohort-sync .*connection refused/,
    );
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => new ApiClient({ url: 'ftp://x', token: undefined })).toThrow(ClientError);
    expect(() => new ApiClient({ url: 'nope', token: undefined })).toThrow(/not a URL/);
  });
});

describe('resolveToken', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-cli-token-'));
  writeFileSync(join(dir, 'admin-token'), 'cs_admin_fromfile\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prefers --token, then COHORT_SYNC_TOKEN', () => {
    expect(resolveToken({ flag: 'flag', env: 'env', url: 'http://127.0.0.1:8080', dataDir: dir })).toBe('flag');
    expect(resolveToken({ flag: undefined, env: 'env', url: 'http://127.0.0.1:8080', dataDir: dir })).toBe('env');
  });

  it('reads DATA_DIR/admin-token for a local server only', () => {
    expect(resolveToken({ flag: undefined, env: undefined, url: 'http://localhost:8080', dataDir: dir })).toBe(
      'cs_admin_fromfile',
    );
    expect(
      resolveToken({ flag: undefined, env: undefined, url: 'https://sync.example.com', dataDir: dir }),
    ).toBeUndefined();
  });

  it('gives nothing when the file is missing', () => {
    expect(
      resolveToken({ flag: undefined, env: undefined, url: 'http://127.0.0.1:1', dataDir: join(dir, 'nope') }),
    ).toBeUndefined();
  });

  it('knows local addresses', () => {
    for (const url of ['http://127.0.0.1:8080', 'http://localhost', 'http://[::1]:8080', 'http://127.1.2.3'])
      expect(isLocalUrl(url)).toBe(true);
    for (const url of ['http://10.0.0.1', 'https://127.0.0.1.example.com', 'not a url'])
      expect(isLocalUrl(url)).toBe(false);
  });
});
