import { describe, expect, it } from 'vitest';
import { datePath, objectKey, sanitizeSegment } from '../../src/storage/keys';

const base = {
  prefix: 'exports',
  provider: 'bird',
  connection: 'bird-eu',
  createdAt: '2026-03-04T05:06:07Z',
  conversationId: 'call-1',
  sourceId: 'rec-1',
  extension: '.mp3',
};

describe('object keys', () => {
  it('follow the documented layout', () => {
    expect(objectKey(base)).toBe('exports/bird/bird-eu/2026/03/04/call-1/rec-1.mp3');
  });

  it('are the same for the same source, whatever the attempt', () => {
    expect(objectKey(base)).toBe(objectKey({ ...base }));
  });

  it.each([
    ['../../etc/passwd'],
    ['..'],
    ['.'],
    ['a/b\\c'],
    ['name\u0000with\u0007control\nchars'],
    ['x'.repeat(1000)],
    ['%2e%2e%2f'],
    ['\u202eevil.exe'],
  ])('keep hostile names (%j) inside the connection prefix', (hostile) => {
    const key = objectKey({ ...base, conversationId: hostile, sourceId: hostile, originalName: hostile });
    expect(key.startsWith('exports/bird/bird-eu/2026/03/04/')).toBe(true);
    const segments = key.split('/');
    expect(segments).toHaveLength(8);
    for (const segment of segments) {
      expect(segment).not.toMatch(/^\.+$/);
      expect(segment.length).toBeLessThanOrEqual(200);
      // eslint-disable-next-line no-control-regex
      expect(segment).not.toMatch(/[\x00-\x1f\x7f\\]/);
    }
  });

  it('never collapse two different hostile names onto one key', () => {
    const a = objectKey({ ...base, sourceId: 'a/b' });
    const b = objectKey({ ...base, sourceId: 'a_b' });
    const c = objectKey({ ...base, sourceId: 'a?b' });
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('keep a readable, sanitized original name for attachments', () => {
    expect(objectKey({ ...base, sourceId: 'm1-0', originalName: 'Invoice March.pdf', extension: '.pdf' })).toMatch(
      /\/m1-0-Invoice_March-[0-9a-f]{10}\.pdf$/,
    );
  });

  it('leave clean segments as they are and bound long ones', () => {
    expect(sanitizeSegment('abc-DEF_1.2')).toBe('abc-DEF_1.2');
    expect(sanitizeSegment('y'.repeat(500)).length).toBeLessThanOrEqual(120);
  });

  it('file undated sources under "undated"', () => {
    expect(datePath('not a date')).toBe('undated');
    expect(datePath('2026-12-31T23:59:59.999Z')).toBe('2026/12/31');
  });
});
