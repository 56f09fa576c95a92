import { describe, expect, it } from 'vitest';
import { coverageOf, planRetention, sweepRange, type ExportRow } from '../../activities/retentionPlan';
import { parseScheduledExportInput } from '../../src/contracts/scheduledExport';
import { DAY, MINUTE } from '../../src/contracts/units';
import { cronFireAfter, cronFireAtOrBefore, parseCron } from '../../src/contracts/cron';
import { parseCadence, planBackfill, windowForRun } from '../../src/contracts/cadence';
import { parseDuration } from '../../src/contracts/durations';

const t = (iso: string) => Date.parse(iso);

describe('schedule windows', () => {
  it('reads durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(90 * MINUTE);
    expect(parseDuration('1d')).toBe(DAY);
    expect(() => parseDuration('1 hour')).toThrow(/not a duration/);
  });

  it('gives an interval run the aligned window that ended `delay` before it', () => {
    const c = parseCadence({ every: '1h', delay: '10m' });
    expect(windowForRun(c, t('2026-03-01T05:10:00Z'))).toEqual({ from: '2026-03-01T04:00:00.000Z', to: '2026-03-01T05:00:00.000Z' });
    // A run triggered by hand at any moment exports the last window that has ended.
    expect(windowForRun(c, t('2026-03-01T05:59:59Z'))).toEqual({ from: '2026-03-01T04:00:00.000Z', to: '2026-03-01T05:00:00.000Z' });
    expect(windowForRun(c, t('2026-03-01T05:09:59Z'))).toEqual({ from: '2026-03-01T03:00:00.000Z', to: '2026-03-01T04:00:00.000Z' });
  });

  it('makes consecutive runs of any cadence contiguous', () => {
    for (const spec of [
      { every: '1h' },
      { every: '1d', delay: '2h' },
      { cron: '30 2 * * *' },
      { cron: '0 */6 * * 1-5', delay: '5m' },
      { cron: '@monthly' },
    ]) {
      const c = parseCadence(spec);
      const plan = planBackfill(c, t('2026-01-01T00:00:00Z'), t('2026-03-01T00:00:00Z'));
      for (let i = 1; i < plan.windows.length; i++) expect(plan.windows[i]!.from, JSON.stringify(spec)).toBe(plan.windows[i - 1]!.to);
      expect(t(plan.windows[0]!.from)).toBeLessThanOrEqual(t('2026-01-01T00:00:00Z'));
      expect(t(plan.windows[plan.windows.length - 1]!.to)).toBeGreaterThanOrEqual(t('2026-03-01T00:00:00Z'));
    }
  });

  it('plans a ten-day backfill of a daily schedule as ten day windows', () => {
    const plan = planBackfill(parseCadence({ every: '1d' }), t('2026-03-01T00:00:00Z'), t('2026-03-11T00:00:00Z'));
    expect(plan.windows).toHaveLength(10);
    expect(plan.windows[0]).toEqual({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' });
    expect(plan.firstFire).toBe(t('2026-03-02T00:00:00Z'));
    expect(plan.lastFire).toBe(t('2026-03-11T00:00:00Z'));
  });

  it('reads cron the way Temporal does: UTC, names, steps, day-of-month AND day-of-week', () => {
    const weekdays = parseCron('0 9 * * mon-fri');
    // Saturday 2026-03-07 09:30 -> previous fire Friday 09:00.
    expect(new Date(cronFireAtOrBefore(weekdays, t('2026-03-07T09:30:00Z'))).toISOString()).toBe('2026-03-06T09:00:00.000Z');
    expect(new Date(cronFireAfter(weekdays, t('2026-03-06T09:00:00Z'))).toISOString()).toBe('2026-03-09T09:00:00.000Z');
    const both = parseCron('0 0 13 * 5'); // Friday the 13th only
    expect(new Date(cronFireAfter(both, t('2026-01-01T00:00:00Z'))).toISOString()).toBe('2026-02-13T00:00:00.000Z');
    expect(new Date(cronFireAtOrBefore(parseCron('@daily'), t('2026-03-01T00:00:00Z'))).toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(new Date(cronFireAfter(parseCron('*/20 * * * *'), t('2026-03-01T00:59:00Z'))).toISOString()).toBe('2026-03-01T01:00:00.000Z');
    expect(cronFireAfter(parseCron('0 0 1 1 *'), t('2026-06-01T00:00:00Z'))).toBe(t('2027-01-01T00:00:00Z'));
  });

  it.each([
    [{ connection: 'bird', every: '1h', cron: '@daily' }, /every: give exactly one/],
    [{ connection: 'bird' }, /every: give exactly one/],
    [{ connection: 'bird', cron: '0 0 * *' }, /cron: expected 5 fields/],
    [{ connection: 'bird', cron: 'TZ=Europe/Paris 0 0 * * *' }, /cron: time zones/],
    [{ connection: 'bird', cron: '61 * * * *' }, /cron: cron minute: 61 is outside/],
    [{ connection: 'bird', every: '1h', delay: 'soon' }, /delay: 'soon' is not a duration/],
    [{ connection: 'bird', every: '1h', token: 'x' }, /token: unknown field/],
  ])('rejects the scheduled export input %j naming the field', (raw, message) => {
    expect(() => parseScheduledExportInput(raw)).toThrow(message);
  });
});

describe('retention planning', () => {
  const policy = { connection: 'bird', keepDays: 10, leadDays: 2 };
  const now = t('2026-03-20T06:00:00Z');
  const row = (from: string, to: string, status: ExportRow['status'], workflowId = `w-${from}-${to}`): ExportRow => ({
    workflowId,
    connection: 'bird',
    from: t(from),
    to: t(to),
    status,
    error: status === 'failed' ? 'boom' : null,
  });

  it('looks from lookbackDays before the deletion horizon up to the due line', () => {
    const r = sweepRange(policy, now, 2);
    expect(new Date(r.deletesBefore).toISOString()).toBe('2026-03-10T06:00:00.000Z');
    expect(new Date(r.dueBefore).toISOString()).toBe('2026-03-12T06:00:00.000Z');
    expect(new Date(r.start).toISOString()).toBe('2026-03-08T00:00:00.000Z');
    expect(new Date(r.end).toISOString()).toBe('2026-03-13T00:00:00.000Z');
  });

  it('covers days by the union of completed exports, attaches to running ones, starts the rest', () => {
    const rows = [
      row('2026-03-09T00:00:00Z', '2026-03-10T00:00:00Z', 'completed'),
      row('2026-03-12T00:00:00Z', '2026-03-12T12:00:00Z', 'completed'),
      row('2026-03-12T12:00:00Z', '2026-03-13T00:00:00Z', 'completed'),
      row('2026-03-11T00:00:00Z', '2026-03-12T00:00:00Z', 'running', 'live'),
      row('2026-03-10T00:00:00Z', '2026-03-11T00:00:00Z', 'failed'),
      row('2026-03-08T00:00:00Z', '2026-03-09T00:00:00Z', 'running', 'stale'),
    ];
    const plan = planRetention([policy], rows, new Set(['live']), now, 2);
    const days = (list: Array<{ from: string }>) => list.map((w) => w.from.slice(0, 10));
    expect(days(plan.covered)).toEqual(['2026-03-09', '2026-03-12']);
    expect(days(plan.alreadyRunning)).toEqual(['2026-03-11']);
    expect(days(plan.toStart)).toEqual(['2026-03-10']);
    expect(plan.toStart[0]!.workflowIds).toEqual(['export:bird:2026-03-10T00:00:00.000Z:2026-03-11T00:00:00.000Z']);
    expect(plan.atRisk.map((w) => [w.from.slice(0, 10), w.reasons])).toEqual([
      ['2026-03-08', ['deleted']],
      ['2026-03-10', ['export_failed', 'deletion_started']],
    ]);
    expect(plan.covered[1]!.deletesAt).toBe('2026-03-22T00:00:00.000Z');
  });
});

describe('retention coverage', () => {
  it('counts a completed export as covering only what existed when it began', () => {
    const r = {
      workflowId: 'w',
      from: new Date('2026-03-01T00:00:00Z'),
      to: new Date('2026-04-01T00:00:00Z'),
      status: 'completed' as const,
      error: null,
      startedAt: new Date('2026-03-12T09:00:00Z'),
    };
    expect(coverageOf('bird', r)).toMatchObject({ from: t('2026-03-01T00:00:00Z'), to: t('2026-03-12T09:00:00Z') });
    // Due now: 2026-03-07 (deletion horizon) to 2026-03-17 (lead).
    const policy = { connection: 'bird', keepDays: 25, leadDays: 10 };
    const plan = planRetention([policy], [coverageOf('bird', r)], new Set(), t('2026-04-01T00:00:00Z'), 0);
    expect(plan.covered.map((w) => w.from.slice(0, 10))).toEqual(['2026-03-07', '2026-03-08', '2026-03-09', '2026-03-10', '2026-03-11']);
    expect(plan.toStart.map((w) => w.from.slice(0, 10))).toEqual(['2026-03-12', '2026-03-13', '2026-03-14', '2026-03-15', '2026-03-16']);
  });
});

describe('bounded cadences (issue 11)', () => {
  it('reads durations by a strict grammar, within bounds', () => {
    expect(parseDuration('1d2h3m4s')).toBe(DAY + 2 * 3_600_000 + 3 * MINUTE + 4000);
    expect(parseDuration('3600')).toBe(3_600_000);
    for (const bad of ['', ' 1h', '1h ', '2h1d', '1h1h', '-1h', '1.5h', '0x10', '1e3', '1w', '9999999999999999999d']) {
      expect(() => parseDuration(bad), bad).toThrow(/not a duration/);
    }
    expect(() => parseDuration('367d')).toThrow(/duration: expected 0s to 366d, got 367d/);
    expect(() => parseDuration(1.5)).toThrow(/whole number of seconds/);
    expect(() => parseDuration(Number.MAX_SAFE_INTEGER + 2)).toThrow(/whole number of seconds/);
  });

  it('refuses a cron expression that skips a year, and keeps those that fire every year', () => {
    for (const never of ['0 3 31 2 *', '0 0 30 2 *', '0 0 29 2 *', '0 0 31 4,6,9,11 *', '0 0 29 2 mon']) {
      expect(() => parseCron(never), never).toThrow(/does not fire in every year/);
    }
    for (const yearly of ['0 0 13 * 5', '@yearly', '0 0 31 * *', '0 0 29 2,3 *', '0 0 1-7 * 1', '59 23 31 12 *']) {
      expect(() => parseCron(yearly), yearly).not.toThrow();
    }
  });

  it('refuses what cron does not mean', () => {
    for (const bad of [
      '1-2-3 * * * *',
      '*/0 * * * *',
      '*/61 * * * *',
      '0 0 * * mondays',
      '0 0 * jann *',
      '0 0 * * *\n',
      '0 0 ? * *',
      'x'.repeat(201),
      '0 0 * * * *',
    ]) {
      expect(() => parseCron(bad), JSON.stringify(bad)).toThrow(/^cron/);
    }
  });
});
