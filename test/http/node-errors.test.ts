// Requests Node refuses before Fastify routes them (issue 12 items 8 and 11), over a real socket: malformed
// HTTP (400), a body that arrives too slowly (408, requestTimeout), oversized chunk extensions (413) and
// oversized headers (431) all answer in api.md's error shape.
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/entry/http/app.ts';
import { ENGINES } from '../support/engines.ts';
import { tokenTools } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { ADMIN_TOKEN } from './api-support.ts';

/** Writes `chunks` (waiting `gapMs` between them) and resolves with everything the server sent back. */
function exchange(port: number, chunks: string[], gapMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      answer += d;
    });
    socket.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e),
    );
    socket.on('close', () => resolve(answer));
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) break;
        socket.write(chunk);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

function parse(raw: string): { status: number; body: { error?: { code?: string; message?: string } } } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  return { status, body: JSON.parse(body) };
}

describe('Node-level client errors', () => {
  let h: Harness;
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    h = await startHarness(ENGINES[0]!);
    app = await buildHttpApp({ deps: h.deps, adminToken: ADMIN_TOKEN, tokens: tokenTools, requestTimeoutMs: 600 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('answers malformed HTTP with 400 in the error shape', async () => {
    const r = parse(await exchange(port, ['NOT HTTP AT ALL\r\n\r\n']));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid_input' });
    expect(typeof r.body.error?.message).toBe('string');
  });

  it('answers oversized headers with 431 in the error shape', async () => {
    const r = parse(await exchange(port, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]));
    expect(r.status).toBe(431);
    expect(r.body.error).toMatchObject({ code: 'headers_too_large' });
  });

  it('answers oversized chunk extensions with 413 in the error shape', async () => {
    const r = parse(
      await exchange(port, [
        `POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
        `2;${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
      ]),
    );
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'payload_too_large' });
  });

  it('cuts off a body that arrives too slowly with 408 (requestTimeout) and creates nothing', async () => {
    const before = (await h.store.projects.list()).length;
    const body = JSON.stringify({ name: 'Slow project' });
    // The headers arrive at once; the body trickles in a byte every 150 ms, far beyond the 600 ms limit.
    const chunks = [
      `POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      ...body.split(''),
    ];
    const r = parse(await exchange(port, chunks, 150));
    expect(r.status).toBe(408);
    expect(r.body.error).toMatchObject({ code: 'timeout' });
    expect((await h.store.projects.list()).length).toBe(before);
  });
});
