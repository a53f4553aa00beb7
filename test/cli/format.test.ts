import { describe, expect, it } from 'vitest';
import { ApiError, ClientError } from '../../src/entry/cli/resources/api-client.ts';
import {
  destinationDetails,
  formatError,
  identifierText,
  importText,
  mappingText,
  memberChangeText,
  previewText,
  projectDetails,
  render,
  runDetails,
  runOutcome,
  runsTable,
  syncsTable,
  table,
  targetsTable,
  when,
} from '../../src/entry/cli/resources/format.ts';

describe('table', () => {
  it('pads columns to the widest cell and upper-cases headers', () => {
    expect(
      table(
        ['id', 'name'],
        [
          ['p1', 'Acme'],
          ['project-22', 'B'],
        ],
      ),
    ).toBe(['ID          NAME', 'p1          Acme', 'project-22  B'].join('\n'));
  });

  it('keeps a multi-line cell on one line', () => {
    expect(table(['a', 'b'], [['x\ny', 'z']])).toBe('A    B\nx y  z');
  });
});

describe('values', () => {
  it('shortens ISO timestamps and leaves other text alone', () => {
    expect(when('2024-05-01T10:00:00.123Z')).toBe('2024-05-01 10:00:00Z');
    expect(when('yesterday')).toBe('yesterday');
    expect(when(null)).toBe('');
  });

  it('describes mappings with their alias options and fallbacks', () => {
    expect(mappingText({ type: 'user_id' })).toBe('user_id');
    expect(
      mappingText({
        type: 'user_alias',
        aliasLabel: 'amp',
        aliasProperty: 'email',
        fallbacks: [{ type: 'device_id' }],
      }),
    ).toBe('user_alias(label=amp, property=email) then device_id');
  });

  it('renders identifiers of every kind', () => {
    expect(identifierText({ kind: 'external_id', value: 'u1' })).toBe('external_id:u1');
    expect(identifierText({ kind: 'alias', label: 'amp', name: 'a@b.c' })).toBe('alias:amp/a@b.c');
    expect(identifierText('device_id:d1')).toBe('device_id:d1');
  });

  it('renders nested JSON as indented lines', () => {
    expect(render({ inCohort: true, identifiers: [{ kind: 'external_id', value: 'u1' }], sent: [], error: null })).toBe(
      [
        'inCohort: true',
        'identifiers:',
        '  - kind: external_id',
        '    value: u1',
        'sent: (none)',
        'error: (none)',
      ].join('\n'),
    );
  });
});

describe('resources', () => {
  it('never prints a full ingest key unless asked', () => {
    const project = { id: 'prj_1', name: 'Acme', ingestKey: 'cs_ingest_secretvalue9876', notificationEmails: [] };
    const hidden = projectDetails(project, { showIngestKey: false });
    expect(hidden).not.toContain('secretvalue');
    expect(hidden).toContain('…9876');
    expect(projectDetails(project, { showIngestKey: true })).toContain('cs_ingest_secretvalue9876');
  });

  it('lists targets with the key hint only', () => {
    const out = targetsTable([
      {
        id: 't1',
        name: 'Default',
        endpoint: 'https://rest.iad-01.braze.com',
        dataImportKeyHint: '…abcd',
        mapping: { type: 'user_id' },
        createdAt: '2024-01-02T03:04:05.000Z',
      },
    ]);
    expect(out.split('\n')[1]).toMatch(
      /^t1\s+Default\s+https:\/\/rest\.iad-01\.braze\.com\s+cohort_import\s+…abcd\s+user_id\s+2024-01-02 03:04:05Z$/,
    );
    expect(targetsTable([])).toBe('No targets.');
    expect(destinationDetails({ enabled: false, targets: [] })).toBe('Braze destination: disabled\n\nNo targets.');
  });

  it('reports rejected CSV lines by number', () => {
    const out = importText('users.csv', {
      size: 2,
      accepted: 2,
      rejected: [{ line: 3, reason: 'expected 2 columns, found 3' }],
    });
    expect(out).toBe(
      'Imported users.csv: 2 accepted, 1 rejected; cohort size is now 2\n  line 3: expected 2 columns, found 3',
    );
  });

  it('marks a rejection count as a lower bound when the server stopped listing', () => {
    const out = importText('f.csv', {
      size: 0,
      accepted: 0,
      rejected: [
        { line: 2, reason: 'x' },
        { line: 0, reason: '5 more rejected lines not listed' },
      ],
    });
    expect(out.split('\n')[0]).toContain('1+ rejected');
    expect(out).toContain('  5 more rejected lines not listed');
  });

  it('numbers invalid members from 1', () => {
    expect(memberChangeText({ added: 1, removed: 0, invalid: [{ index: 1, op: 'add', reason: 'needs an id' }] })).toBe(
      'added 1, removed 0\n  invalid add #2: needs an id',
    );
  });

  it('summarises syncs, runs and previews', () => {
    expect(
      syncsTable({
        items: [
          {
            id: 's1',
            cohortId: 'c1',
            targetId: 't1',
            cadence: 'cron',
            cron: '0 * * * *',
            paused: true,
            lastRun: { status: 'succeeded', finishedAt: '2024-01-01T00:00:00Z' },
          },
        ],
      }),
    ).toMatch(/s1\s+c1\s+t1\s+cron \(0 \* \* \* \*\)\s+yes\s+succeeded 2024-01-01 00:00:00Z/);
    expect(
      runsTable({
        items: [
          { id: 'r1', status: 'failed', trigger: 'manual', counts: { added: 1, removed: 2, skipped: 3, failed: 4 } },
        ],
      }),
    ).toMatch(/r1\s+failed\s+manual\s+1\s+2\s+3\s+4$/);
    expect(
      previewText({
        add: { count: 2, sample: [{ kind: 'external_id', value: 'u1' }] },
        remove: { count: 0, sample: [] },
        skipped: { count: 1, reasons: { no_user_id: 1 } },
      }),
    ).toBe('would add: 2\n  external_id:u1\nwould remove: 0\nwould skip: 1\n  no_user_id: 1');
  });

  it("shows a failed run's error with its code", () => {
    const run = {
      id: 'r1',
      status: 'failed',
      counts: { added: 0, removed: 0, skipped: 0, failed: 3 },
      error: { code: 'braze_unauthorized', message: 'the Data Import Key was refused' },
    };
    expect(runOutcome(run)).toBe(
      'Run r1 failed: the Data Import Key was refused (braze_unauthorized) — added 0, removed 0, skipped 0, failed 3',
    );
    expect(runDetails(run)).toMatch(/^error: +the Data Import Key was refused \(braze_unauthorized\)$/m);
  });

  it('reads counts as users with the identifiers sent beside them, and says when a run is partial', () => {
    const run = {
      id: 'r2',
      status: 'succeeded',
      counts: { added: 2500, removed: 0, skipped: 0, failed: 4 },
      identifiers: { added: 3500, removed: 0 },
    };
    expect(runOutcome(run)).toBe(
      'Run r2 succeeded partially — added 2500 users (3,500 identifiers), removed 0 users (0 identifiers), skipped 0, failed 4',
    );
    expect(runDetails(run)).toMatch(/^failed: +4 \(partial: sent again by the next run\)$/m);
  });
});

describe('formatError', () => {
  it('prints the API message, code and status, and each invalid field', () => {
    const error = new ApiError(400, 'invalid_input', 'the request has invalid fields', [
      { path: 'name', message: 'is required' },
    ]);
    expect(formatError(error)).toBe(
      'error: the request has invalid fields (invalid_input, HTTP 400)\n  - name: is required',
    );
  });

  it('prints other details as indented JSON-ish lines', () => {
    expect(formatError(new ApiError(409, 'target_in_use', 'in use', { syncs: ['s1'] }))).toBe(
      'error: in use (target_in_use, HTTP 409)\n  syncs:\n    - s1',
    );
  });

  it('prints client errors plainly', () => {
    expect(formatError(new ClientError('could not reach cohort-sync'))).toBe('error: could not reach cohort-sync');
  });
});
