import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { parseDefinition } from '../../src/domain/behavioral.ts';
import { describeDefinition, toJson, uid } from '../src/definition';
import { NewRulesCohort } from '../src/pages/NewRulesCohort';
import { answerApi, renderAt } from './render';

describe('the rules builder', () => {
  it('builds definitions the server reads, and reads them back in plain English', () => {
    const json = toJson([
      {
        key: uid(),
        not: false,
        any: [
          {
            key: uid(),
            kind: 'event',
            event: 'Purchase',
            countOp: 'gte',
            count: 2,
            last: 30,
            unit: 'day',
            where: [{ key: uid(), property: 'plan', op: 'eq', value: 'pro' }],
          },
        ],
      },
      { key: uid(), not: true, any: [{ key: uid(), kind: 'user', property: 'country', op: 'in', value: 'FR, 3' }] },
    ]);
    expect(json).toEqual({
      all: [
        {
          any: [
            {
              event: 'Purchase',
              where: [{ property: 'plan', op: 'eq', value: 'pro' }],
              count: { op: 'gte', value: 2 },
              within: { last: 30, unit: 'day' },
            },
          ],
        },
        { not: true, any: [{ userProperty: 'country', op: 'in', value: ['FR', 3] }] },
      ],
    });
    expect(parseDefinition(json, { retentionDays: 90, nowMs: Date.now() }).ok).toBe(true);
    expect(describeDefinition(json)).toBe(
      'Users who performed Purchase where plan is "pro" at least 2 times in the last 30 days and not (user property country is one of "FR", 3)',
    );
  });

  it('estimates the size live and saves the definition', async () => {
    const calls = answerApi({
      'POST /projects/p1/cohorts/estimate': { size: 42 },
      'POST /projects/p1/cohorts': { id: 'c9' },
    });
    renderAt('/p/p1/cohorts/new-rules', '/p/:projectId/cohorts/new-rules', <NewRulesCohort />);
    const user = userEvent.setup();
    expect(screen.getByTestId('estimate').textContent).toBe('Complete the conditions to see an estimate.');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByText('Name the event')).toBeTruthy();
    expect(screen.getByText('Give the cohort a name')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Event'), { target: { value: 'Signup' } });
    await waitFor(() => expect(screen.getByTestId('estimate').textContent).toBe('About 42 users match now.'), {
      timeout: 3000,
    });
    expect(screen.getByTestId('plain-english').textContent).toBe('Users who performed Signup in the last 30 days');
    await user.type(screen.getByLabelText('Cohort name'), 'Signed up');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(calls.some((c) => c.path === '/projects/p1/cohorts')).toBe(true));
    expect(calls.find((c) => c.path === '/projects/p1/cohorts')?.body).toEqual({
      name: 'Signed up',
      type: 'behavioral',
      definition: {
        all: [{ any: [{ event: 'Signup', count: { op: 'gte', value: 1 }, within: { last: 30, unit: 'day' } }] }],
      },
    });
  });
});
