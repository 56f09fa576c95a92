import { describe, expect, it } from 'vitest';
import { exportWorkflowId, parseExportInput } from '../../workflows/input';

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
  ])('rejects %j naming the field', (raw, message) => {
    expect(() => parseExportInput(raw)).toThrow(message);
  });

  it('derives one workflow id per connection and window', () => {
    const a = parseExportInput({ connection: 'bird', from: '2026-01-01', to: '2026-01-02' });
    const b = parseExportInput({ connection: 'bird', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00.000Z', trigger: { kind: 'schedule' } });
    expect(exportWorkflowId(a)).toBe(exportWorkflowId(b));
  });
});
