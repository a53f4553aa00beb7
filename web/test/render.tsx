// Renders a page of the UI with its providers in happy-dom. The API is answered by `routes`, a table of
// canned JSON answers by "METHOD /path" — the component tests are about forms and steps; the end-to-end
// tests (test/e2e/ui.e2e.test.ts) run the same pages against the real server.
import { MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, vi } from 'vitest';
import { SessionProvider } from '../src/session';

export type Answer = unknown | ((body: unknown) => unknown);

export interface Call {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

export function answerApi(routes: Record<string, Answer>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    const path =
      String(url)
        .replace(/^\/api\/v1/, '')
        .split('?')[0] ?? '';
    const body = typeof init.body === 'string' && init.body.startsWith('{') ? JSON.parse(init.body) : init.body;
    calls.push({ method, path, body });
    const answer = routes[`${method} ${path}`];
    if (answer === undefined)
      return new Response(JSON.stringify({ error: { code: 'not_found', message: `no ${method} ${path}` } }), {
        status: 404,
      });
    const value = typeof answer === 'function' ? (answer as (b: unknown) => unknown)(body) : answer;
    return new Response(JSON.stringify(value), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  return calls;
}

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

export function renderAt(path: string, pattern: string, element: ReactNode) {
  sessionStorage.setItem('cohort-sync.token', JSON.stringify('test-token'));
  sessionStorage.setItem('cohort-sync.whoami', JSON.stringify({ kind: 'admin' }));
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <MantineProvider>
      <QueryClientProvider client={client}>
        <SessionProvider>
          <MemoryRouter initialEntries={[path]}>
            <Routes>
              <Route path={pattern} element={element} />
              <Route path="*" element={<div>elsewhere</div>} />
            </Routes>
          </MemoryRouter>
        </SessionProvider>
      </QueryClientProvider>
    </MantineProvider>,
  );
}
