// Reading request bodies and writing JSON answers on plain node:http.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest } from './errors.ts';

export type BodyRead =
  | { readonly tooLarge: false; readonly bytes: Buffer }
  | { readonly tooLarge: true; readonly received: number };

/**
 * Reads the whole body, keeping at most `limit` bytes. Past the limit the rest is still read and thrown
 * away rather than cutting the connection: a client that is still uploading would otherwise see a reset
 * instead of the 413 we want it to act on.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limit) chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(received > limit ? { tooLarge: true, received } : { tooLarge: false, bytes: Buffer.concat(chunks) });
    });
    req.on('error', reject);
  });
}

/** Parses a JSON body; an empty body is `undefined` so optional bodies need no special case. */
export function parseJson(bytes: Buffer): unknown {
  const text = bytes.toString('utf8');
  if (text.trim().length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('request body is not valid JSON');
  }
}

/** True for `application/json`, with or without parameters such as `charset`. */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && header.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  // The client may have gone away (or the sandbox closed) while a latency fault was waiting.
  if (res.destroyed || res.writableEnded) return;
  const payload = JSON.stringify(body ?? null);
  // setHeader is case-insensitive, so headers given later (e.g. by an injected fault) replace defaults.
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Length', String(Buffer.byteLength(payload)));
  res.writeHead(status);
  res.end(payload);
}
