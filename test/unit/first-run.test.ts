import { describe, expect, it } from 'vitest';
import { checkoutDatabaseName } from '../../src/cli/demoCommand';
import { formatSweep } from '../../src/client/retention';
import type { RetentionSweepResult } from '../../src/contracts/retentionSweep';

describe('first run: the demo database and what an empty sweep says (issue 13)', () => {
  it('names one demo database per checkout, a valid Postgres identifier', () => {
    const a = checkoutDatabaseName('/home/ann/callvault');
    expect(a).toMatch(/^callvault_demo_[0-9a-f]{12}$/);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(checkoutDatabaseName('/home/ann/callvault')).toBe(a);
    expect(checkoutDatabaseName('/home/bob/callvault')).not.toBe(a);
  });

  const empty: RetentionSweepResult = {
    now: '2026-06-01T00:00:00.000Z',
    dryRun: true,
    policies: [],
    started: [],
    alreadyRunning: [],
    covered: [],
    atRisk: [],
  };

  it('says why a sweep had nothing to do: no policy at all', () => {
    expect(formatSweep(empty)).toContain(
      'nothing to do: no connection has a retention policy, so no day is ever due. Add one per connection: "retention": { "keepDays": 90, "leadDays": 3 }',
    );
  });

  it('says why a sweep had nothing to do: every due day covered', () => {
    const policy = {
      connection: 'bird-eu',
      keepDays: 90,
      leadDays: 3,
      deletesBefore: '2026-03-03T00:00:00.000Z',
      dueBefore: '2026-03-06T00:00:00.000Z',
      checked: { from: '2026-02-24T00:00:00.000Z', to: '2026-03-06T00:00:00.000Z' },
    };
    const day = {
      connection: 'bird-eu',
      from: '2026-03-05T00:00:00.000Z',
      to: '2026-03-06T00:00:00.000Z',
      deletesAt: '2026-06-03T00:00:00.000Z',
      workflowIds: ['export:bird-eu:x'],
    };
    const text = formatSweep({ ...empty, policies: [policy], covered: [day] });
    expect(text).toContain('0 would start, 0 already running, 1 covered, 0 at risk');
    expect(text).toContain('nothing to do: every due day');
    expect(formatSweep({ ...empty, policies: [policy], started: [day] })).not.toContain('nothing to do');
  });
});
