// The OpenAPI document (docs/product.md §7): served without a token, generated from the routes' own schemas, and
// listing exactly the routes the API serves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { type Api, startApi } from './api-support.ts';
import { ROUTES } from './route-table.ts';

type Operation = {
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
  security?: unknown[];
};
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
  security: unknown[];
};

describe('OpenAPI document', () => {
  let api: Api;
  let doc: Doc;
  beforeAll(async () => {
    api = await startApi(ENGINES[0]!);
    const res = await api.call('GET', '/api/v1/openapi.json', { token: null });
    expect(res.statusCode).toBe(200);
    doc = res.json() as Doc;
  });
  afterAll(async () => {
    await api?.close();
  });

  it('lists exactly the routes of the API, and the API serves each of them', () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const expected = [
      ...ROUTES.map((r) => `${r.method} ${r.template}`),
      'GET /healthz',
      'GET /readyz',
      'GET /api/v1/openapi.json',
    ].sort();
    expect(documented).toEqual(expected);
    for (const route of ROUTES)
      expect(
        api.app.hasRoute({ method: route.method, url: route.template.replace(/\{(\w+)\}/g, ':$1') }),
        `${route.method} ${route.template}`,
      ).toBe(true);
  });

  it('describes bearer authentication, with the open routes exempt', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
    expect(doc.paths['/readyz']!.get!.security).toEqual([]);
    expect(doc.paths['/api/v1/openapi.json']!.get!.security).toEqual([]);
  });

  it('documents path parameters, queries and bodies from the validating schemas', () => {
    const target = doc.paths['/api/v1/projects/{projectId}/destinations/braze/targets/{targetId}']!;
    expect(
      target
        .patch!.parameters!.filter((p) => p.in === 'path')
        .map((p) => p.name)
        .sort(),
    ).toEqual(['projectId', 'targetId']);
    const patchBody = target.patch!.requestBody!.content['application/json']!.schema as {
      properties: Record<string, unknown>;
      additionalProperties: boolean;
    };
    expect(Object.keys(patchBody.properties).sort()).toEqual([
      'attribute',
      'dataImportKey',
      'delivery',
      'endpoint',
      'mapping',
      'name',
      'restApiKey',
    ]);
    expect(patchBody.additionalProperties).toBe(false);
    const create = doc.paths['/api/v1/projects/{projectId}/destinations/braze/targets']!.post!;
    const createBody = create.requestBody!.content['application/json']!.schema as { required: string[] };
    // The key field depends on the delivery mode (dataImportKey or restApiKey), so neither is required here.
    expect(createBody.required.sort()).toEqual(['endpoint', 'mapping', 'name']);
    // Responses document the shape and never a key: the Target has a hint only.
    const targetResponse = JSON.stringify(create.responses['201']);
    expect(targetResponse).toContain('dataImportKeyHint');
    expect(targetResponse).toContain('restApiKeyHint');
    expect(targetResponse).not.toContain('"dataImportKey"');
    expect(targetResponse).not.toContain('"restApiKey"');
    const runs = doc.paths['/api/v1/projects/{projectId}/syncs/{syncId}/runs']!.get!;
    expect(
      runs
        .parameters!.filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort(),
    ).toEqual(['cursor', 'from', 'limit', 'status', 'to']);
    const members = doc.paths['/api/v1/projects/{projectId}/cohorts/{cohortId}/members']!.put!;
    expect(Object.keys(members.requestBody!.content).sort()).toEqual(['application/json', 'text/csv']);
  });
});
