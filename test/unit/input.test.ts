import { describe, expect, it } from 'vitest';
import { exportWorkflowId, parseExportInput } from '../../src/contracts/exportInput';
import { parseRetentionSweepInput } from '../../src/contracts/retentionSweep';
import { parseScheduledExportInput, parseScheduledRunState } from '../../src/contracts/scheduledExport';

describe('export input', () => {
  it('accepts dates and date-times and normalises them to UTC instants', () => {
    const input = parseExportInput({ connection: 'bird-eu', from: '2026-01-01', to: '2026-01-02T12:00:00+02:00' });
    expect(input.from).toBe('2026-01-01T00:00:00.000Z');
    expect(input.to).toBe('2026-01-02T10:00:00.000Z');
    expect(input.options.maxInFlight).toBe(8);
    expect(input.trigger).toEqual({ kind: 'operator' });
  });

  it.each([
    [{ connection: 'Bird EU', from: '2026-01-01', to: '2026-01-02' }, /connection: use 1-63 lowercase/],
    [{ connection: 'bird', from: 'yesterday', to: '2026-01-02' }, /from: expected an ISO-8601 date/],
    [{ connection: 'bird', from: '2026-01-02', to: '2026-01-01' }, /to: must be later than from/],
    [{ connection: 'bird', from: '2026-01-01', to: '2026-01-02', options: { maxInFlight: 5000 } }, /options\.maxInFlight:/],
    [{ connection: 'bird', from: '2026-01-01', to: '2026-01-02', token: 'secret' }, /token: unknown field/],
    [{ from: '2026-01-01', to: '2026-01-02' }, /connection:/],
    ['not an object', /input:/],
    [
      { connection: 'bird', from: '2026-01-01', to: '2026-01-02', options: { maxInFlight: 2.5 } },
      /options\.maxInFlight: expected a whole number/,
    ],
    [{ connection: 'bird', from: '2026-01-01', to: '2026-01-02', options: { parallel: 3 } }, /options\.parallel: unknown field/],
    [{ connection: 'bird', from: '2026-01-01', to: '2026-01-02', trigger: { kind: 'cron' } }, /trigger\.kind: expected one of 'operator'/],
    [
      { connection: 'bird', from: '2026-01-01', to: '2026-01-02', trigger: { kind: 'api', by: 'x'.repeat(201) } },
      /trigger\.by: at most 200/,
    ],
  ])('rejects %j naming the field', (raw, message) => {
    expect(() => parseExportInput(raw)).toThrow(message);
  });

  it('names every bad field at once, not just the first', () => {
    expect(() => parseExportInput({ connection: 'Bird', from: 'soon', to: '2026-01-02', options: { maxAttempts: 0 } })).toThrow(
      /connection: .*; from: expected an ISO-8601 date.*; options\.maxAttempts: expected a number from 1 to 1000/,
    );
  });

  it('fills in the options left out, keeping the ones given', () => {
    expect(parseExportInput({ connection: 'bird', from: '2026-01-01', to: '2026-01-02', options: { maxInFlight: 3 } }).options).toEqual({
      maxInFlight: 3,
      heartbeatTimeoutSeconds: 60,
      maxAttempts: 10,
      maxRetryIntervalSeconds: 120,
      notReadyMaxWaitHours: 72,
    });
  });

  it('derives one workflow id per connection and window', () => {
    const a = parseExportInput({ connection: 'bird', from: '2026-01-01', to: '2026-01-02' });
    const b = parseExportInput({
      connection: 'bird',
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-02T00:00:00.000Z',
      trigger: { kind: 'schedule' },
    });
    expect(exportWorkflowId(a)).toBe(exportWorkflowId(b));
  });
});

describe('trigger inputs', () => {
  it('keeps a scheduled export input as given, its options checked but not filled in', () => {
    expect(parseScheduledExportInput({ connection: 'bird', cron: '@daily', delay: '1h', options: { maxInFlight: 4 } })).toEqual({
      connection: 'bird',
      cron: '@daily',
      delay: '1h',
      options: { maxInFlight: 4 },
    });
  });

  it('fills in the retention sweep defaults', () => {
    expect(parseRetentionSweepInput({})).toEqual({ lookbackDays: 7, dryRun: false });
    expect(parseRetentionSweepInput({ connections: ['bird-eu'], dryRun: true, now: '2026-03-01T00:00:00Z' })).toMatchObject({
      connections: ['bird-eu'],
      dryRun: true,
    });
  });

  it.each([
    [{ lookbackDays: 400 }, /lookbackDays: expected a number from 0 to 366/],
    [{ dryRun: 'yes' }, /dryRun: expected true or false/],
    [{ connections: ['ok', 'Not OK'] }, /connections\.1: use 1-63 lowercase/],
    [{ connections: 'bird' }, /connections: expected a list/],
    [{ now: 'tomorrow' }, /now: expected an ISO-8601 date-time/],
    [{ options: { maxInFlight: 0 } }, /options\.maxInFlight: expected a number from 1 to 500/],
    [{ token: 'x' }, /token: unknown field/],
    [null, /invalid retention sweep input: input: expected an object, got null/],
  ])('rejects the retention sweep input %j naming the field', (raw, message) => {
    expect(() => parseRetentionSweepInput(raw)).toThrow(message);
  });
});

describe('strict export inputs (issue 11)', () => {
  const ok = { connection: 'bird', from: '2026-01-01', to: '2026-01-02' };

  it.each([
    [{ ...ok, from: '2026-02-31' }, /from: 2026-02-31 is not a date in the calendar/],
    [{ ...ok, from: '2026-02-29' }, /from: 2026-02-29 is not a date in the calendar/],
    [{ ...ok, from: '0000-01-01' }, /from: expected a date from 2000-01-01 to 2100-12-31/],
    [{ ...ok, to: '2101-01-01' }, /to: expected a date from 2000-01-01 to 2100-12-31/],
    [{ ...ok, from: '2000-01-01T00:30:00+01:00' }, /from: expected a date from 2000-01-01/],
    [{ ...ok, from: '2026-01-01T24:00:00Z' }, /from: 24:00:00 is not a time of day/],
    [{ ...ok, from: '2026-01-01T10:00:00+15:00' }, /from: \+15:00 is not a UTC offset/],
    [{ ...ok, from: '2026-1-1' }, /from: expected an ISO-8601 date/],
    [{ ...ok, from: '\uFEFF2026-01-01' }, /from: expected an ISO-8601 date/],
    [{ ...ok, from: 1767225600000 }, /from: expected an ISO-8601 date .*got 1767225600000/],
    [{ ...ok, from: '2000-01-01', to: '2026-01-01' }, /to: a window is at most 3660 days/],
    [{ ...ok, connection: 'constructor' }, null],
    [{ ...ok, connection: '__proto__' }, /connection: use 1-63 lowercase/],
    [{ ...ok, connection: 'toString' }, /connection: use 1-63 lowercase/],
    [{ ...ok, trigger: { kind: 'cli', by: 'jane\u0000' } }, /trigger\.by: control characters/],
    [{ ...ok, trigger: { kind: 'cli', by: 'a\u202eb' } }, /trigger\.by: control characters/],
    [{ ...ok, trigger: { kind: 'cli', by: '\ud800' } }, /trigger\.by: control characters, unpaired surrogates/],
    [{ ...ok, trigger: { kind: 'cli', by: '' } }, /trigger\.by: must not be empty/],
    [{ ...ok, options: { maxInFlight: '0x10' } }, /options\.maxInFlight: expected a number, got '0x10'/],
    [{ ...ok, options: { maxInFlight: 1e308 } }, /options\.maxInFlight: expected a number from 1 to 500/],
    [JSON.parse('{"connection":"bird","from":"2026-01-01","to":"2026-01-02","__proto__":{"x":1}}'), /__proto__: unknown field/],
    [{ ...ok, constructor: 'x' }, /constructor: unknown field/],
    [{ ...ok, 'bad\u0000key': 1 }, /'bad\\u0000key': unknown field/],
  ])('refuses %j naming the field', (raw, message) => {
    if (message === null)
      expect(parseExportInput(raw).connection).toBe('constructor'); // a name by the grammar: unknown to the worker, not a crash
    else expect(() => parseExportInput(raw)).toThrow(message);
  });

  it('reads only own keys: an inherited field is absent', () => {
    const inherited = Object.create({ connection: 'bird', from: '2026-01-01', to: '2026-01-02' }) as unknown;
    expect(() => parseExportInput(inherited)).toThrow(/input: expected an object/);
    expect(() => parseExportInput(Object.assign(Object.create(null) as object, { from: '2026-01-01', to: '2026-01-02' }))).toThrow(
      /connection: expected a string, got undefined/,
    );
  });

  it('accepts the calendar edges it should', () => {
    expect(parseExportInput({ ...ok, from: '2028-02-29', to: '2028-03-01' }).from).toBe('2028-02-29T00:00:00.000Z');
    expect(parseExportInput({ ...ok, from: '2000-01-01', to: '2000-01-01T00:00:00.001Z' }).to).toBe('2000-01-01T00:00:00.001Z');
    expect(parseExportInput({ ...ok, from: '2100-12-31T13:59:59.9+14:00', to: '2100-12-31T23:59:59.999Z' }).from).toBe(
      '2100-12-30T23:59:59.900Z',
    );
    expect(parseExportInput({ ...ok, from: '2026-01-01 10:00', to: '2026-01-01T12:00:00-0100' }).to).toBe('2026-01-01T13:00:00.000Z');
  });

  it('keeps a message short and printable whatever it quotes', () => {
    const junk: Record<string, unknown> = {};
    for (let i = 0; i < 5000; i++) junk[`k${i}\u0000`] = i;
    const message = (() => {
      try {
        parseExportInput({ ...ok, ...junk, trigger: { kind: 'x'.repeat(1_000_000) } });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/; and 4991 more$/);
    expect(message.length).toBeLessThan(2000);
    expect(message).not.toMatch(/[\u0000-\u001f]/);
  });
});

describe('strict trigger inputs (issue 11)', () => {
  it.each([
    [{ connection: 'bird', cron: '0 3 31 2 *' }, /cron: '0 3 31 2 \*' does not fire in every year/],
    [{ connection: 'bird', cron: '0 0 29 2 *' }, /cron: .* does not fire in every year/],
    [{ connection: 'bird', every: '100000d' }, /every: expected 10s to 366d, got 100000d/],
    [{ connection: 'bird', every: '1d', delay: '3650d' }, /delay: expected 0s to 30d, got 3650d/],
    [{ connection: 'bird', every: '1d', delay: '100000d' }, /delay: expected 0s to 30d/],
    [{ connection: 'bird', every: '1s' }, /every: expected 10s to 366d, got 1s/],
    [{ connection: 'bird', every: '1h1h' }, /every: '1h1h' is not a duration/],
    [{ connection: 'bird', every: '1d', scheduleId: 'my schedule/../x' }, /scheduleId: use 1-200 letters/],
    [{ connection: 'bird', every: '1d', at: '2026-02-30' }, /at: 2026-02-30 is not a date in the calendar/],
    [{ connection: 'bird', every: '1d', at: '2000-01-01T12:00:00Z' }, /at: gives the window 1999-12-31T00:00:00.000Z/],
    [{ connection: 'constructor', cron: 'tue-monday 0 * * *' }, /cron: cron minute: 'tue' is not a number$/],
    [{ connection: 'bird', cron: '0 0 * * monday' }, /cron: cron day-of-week: 'monday' is not a number or a three-letter name/],
    [{ connection: 'bird', cron: '0\t0 * * *' }, /cron: expected an expression of at most 200 printable ASCII characters/],
  ])('refuses the scheduled export input %j naming the field', (raw, message) => {
    expect(() => parseScheduledExportInput(raw)).toThrow(message);
  });

  it.each([
    [{ now: '2026-02-30T00:00:00Z' }, /now: 2026-02-30 is not a date in the calendar/],
    [{ connections: ['constructor', 'constructor'] }, /connections\.1: 'constructor' is listed twice/],
    [{ connections: ['__proto__'] }, /connections\.0: use 1-63 lowercase/],
    [{ by: 'sweep\u0000' }, /by: control characters/],
    [{ lookbackDays: 1e15 }, /lookbackDays: expected a number from 0 to 366/],
  ])('refuses the retention sweep input %j naming the field', (raw, message) => {
    expect(() => parseRetentionSweepInput(raw)).toThrow(message);
  });
});

describe('carried state of a scheduled run', () => {
  const input = parseScheduledExportInput({ connection: 'bird', every: '1d' });
  const good = {
    exportWorkflowId: 'export:bird:2026-03-01T00:00:00.000Z:2026-03-02T00:00:00.000Z',
    started: true,
    scheduledAt: '2026-03-02T00:00:00.000Z',
    pollMs: 4000,
  };

  it('is taken only from a run that continued as new, and only when it describes this run', () => {
    expect(parseScheduledRunState(undefined, false, input)).toBeUndefined();
    expect(parseScheduledRunState(good, true, input)).toEqual(good);
    expect(() => parseScheduledRunState(good, false, input)).toThrow(/carried: only a run that continued as new carries state/);
    expect(() => parseScheduledRunState({ ...good, pollMs: 1e15 }, true, input)).toThrow(
      /carried\.pollMs: expected a number from 1000 to 120000/,
    );
    expect(() => parseScheduledRunState({ ...good, exportWorkflowId: 'export:other:x' }, true, input)).toThrow(
      /carried\.exportWorkflowId: expected 'export:bird:2026-03-01/,
    );
    expect(() => parseScheduledRunState({ ...good, scheduledAt: '1999-01-01' }, true, input)).toThrow(
      /carried\.scheduledAt: expected a date from 2000/,
    );
    expect(() => parseScheduledRunState(5, true, input)).toThrow(/carried: expected an object, got 5/);
  });
});
