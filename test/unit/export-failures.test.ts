import { describe, expect, it } from 'vitest';
import { InvalidCarriedState, parseCarriedState } from '../../src/contracts/carried';
import { exportCurrentDetails, exportSummary } from '../../src/contracts/exportDescription';
import { FAILURE_REASON_MAX, FAILURE_SAMPLE_PER_CODE, FailureSample, outcomeOf } from '../../src/contracts/exportFailures';
import type { SourceItem } from '../../src/contracts/sourceItem';
import { ExportState } from '../../workflows/exportState';

const rules = { maxTries: 3, firstRetryMs: 1_000, maxRetryMs: 8_000, notReadyMaxWaitMs: 60_000 };
const item = (id: string): SourceItem => ({
  sourceId: id,
  conversationId: 'c',
  kind: 'recording',
  createdAt: '2026-01-01T00:00:00Z',
  locator: {},
});

describe('the failed files an export reports: counted per code, a bounded sample of each', () => {
  it('counts every failure and keeps only the first files of each code, with reasons cut short', () => {
    const sample = new FailureSample();
    for (let i = 0; i < 500; i++) sample.add('gave_up', `g${i}`, `gave up after 10 tries: HTTP 503 ${'x'.repeat(i)}`);
    sample.add('not_found', 'n1', 'HTTP 404');
    const summary = sample.summary();
    expect(summary.total).toBe(501);
    // The platform's final word first, then what callvault gave up.
    expect(summary.groups.map((g) => [g.code, g.final, g.count, g.sample.length])).toEqual([
      ['not_found', true, 1, 1],
      ['gave_up', false, 500, FAILURE_SAMPLE_PER_CODE],
    ]);
    expect(Math.max(...summary.groups.flatMap((g) => g.sample.map((f) => f.reason.length)))).toBeLessThanOrEqual(FAILURE_REASON_MAX);
    expect(JSON.stringify(summary).length).toBeLessThan(10_000);
  });

  it('tells complete, final failures and given-up files apart, given-up files first', () => {
    const sample = new FailureSample();
    expect(outcomeOf(sample.summary())).toBe('completed');
    sample.add('provider_final_status', 'a', "status 'absent'");
    expect(outcomeOf(sample.summary())).toBe('completed_with_final_failures');
    sample.add('not_ready_timeout', 'b', 'still not ready after 72 h');
    expect(outcomeOf(sample.summary())).toBe('completed_with_given_up');
  });

  it('keeps the sample across continue-as-new, and refuses a forged one', () => {
    const state = new ExportState(rules);
    state.pageListed({ items: [item('gone'), item('ok')], alreadyStored: [], nextCursor: 'p2' });
    const batch = state.nextBatch(4, 1)!;
    state.batchSettled(
      batch,
      [
        { sourceId: 'gone', outcome: 'unavailable', reason: 'HTTP 404', code: 'not_found' },
        { sourceId: 'ok', outcome: 'stored', bytes: 1 },
      ],
      0,
    );
    const carried = JSON.parse(JSON.stringify(state.snapshot())) as Record<string, unknown>;
    const next = new ExportState(rules, parseCarriedState(carried, 0));
    expect(next.failures).toEqual({
      total: 1,
      groups: [{ code: 'not_found', final: true, count: 1, sample: [{ sourceId: 'gone', reason: 'HTTP 404' }] }],
    });
    // State from an older worker has no sample: it starts empty.
    const { failures: _, ...older } = carried;
    expect(new ExportState(rules, parseCarriedState(older, 0)).failures).toEqual({ total: 0, groups: [] });
    const forged = { ...carried, failures: { total: 7, groups: [{ code: 'gave_up', final: true, count: 7, sample: [] }] } };
    expect(() => parseCarriedState(forged, 0)).toThrow(InvalidCarriedState);
    expect(() => parseCarriedState(forged, 0)).toThrow(/carried\.failures: more failed files than counted/);
  });
});

describe('what the Temporal UI shows of an export', () => {
  it('summarises the connection, the window and who started it in one line', () => {
    expect(
      exportSummary({
        connection: 'bird-eu',
        from: '2026-03-01T00:00:00.000Z',
        to: '2026-03-02T00:00:00.000Z',
        trigger: { kind: 'cli', by: 'jane' },
      }),
    ).toBe('bird-eu 2026-03-01 → 2026-03-02 (cli: jane)');
    expect(exportSummary({ connection: 'x', from: '2026-03-01T06:00:00Z', to: '2026-03-01T07:00:00Z' })).toBe(
      'x 2026-03-01T06:00:00Z → 2026-03-01T07:00:00Z (operator)',
    );
  });

  it('lists failed files by code with their reasons in the current details', () => {
    const sample = new FailureSample();
    sample.add('gave_up', 'rec-9', 'gave up after 3 tries: HTTP 503');
    const text = exportCurrentDetails(
      'completed_with_given_up',
      {
        listed: 3,
        transferred: 2,
        skipped: 0,
        failed: 1,
        bytes: 2048,
        waiting: 0,
        retrying: 0,
        inFlight: 0,
        pagesListed: 1,
        listingDone: true,
        generation: 0,
      },
      sample.summary(),
    );
    expect(text).toContain('**Completed, some files given up**: 3 of 3 files done: 2 stored (2.0 KiB), 0 already stored, 1 failed');
    expect(text).toContain('`gave_up` × 1');
    expect(text).toContain('`rec-9`: gave up after 3 tries: HTTP 503');
  });
});
