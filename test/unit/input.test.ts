import { describe, expect, it } from 'vitest';
import { exportWorkflowId, parseExportInput } from '../../workflows/input';
import { parseRetentionSweepInput, parseScheduledExportInput } from '../../workflows/triggers';

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
    [{ connection: 'bird', from: '2026-01-01', to: '2026-01-02', options: { maxInFlight: 2.5 } }, /options\.maxInFlight: expected a whole number/],
    [{ connection: 'bird', from: '2026-01-01', to: '2026-01-02', options: { parallel: 3 } }, /options\.parallel: unknown field/],
    [{ connection: 'bird', from: '2026-01-01', to: '2026-01-02', trigger: { kind: 'cron' } }, /trigger\.kind: expected one of 'operator'/],
    [{ connection: 'bird', from: '2026-01-01', to: '2026-01-02', trigger: { kind: 'api', by: 'x'.repeat(201) } }, /trigger\.by: at most 200/],
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
    const b = parseExportInput({ connection: 'bird', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00.000Z', trigger: { kind: 'schedule' } });
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
    expect(parseRetentionSweepInput({ connections: ['bird-eu'], dryRun: true, now: '2026-03-01T00:00:00Z' })).toMatchObject({ connections: ['bird-eu'], dryRun: true });
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
