import { describe, expect, it } from 'vitest';
import { datePath, manifestKey, manifestsPrefix, objectKey, sanitizeSegment } from '../../src/storage/keys';

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

describe('manifest keys', () => {
  const manifest = {
    prefix: 'exports',
    provider: 'bird',
    connection: 'bird-eu',
    writtenAt: '2026-03-05T01:02:03Z',
    workflowId: 'export:bird-eu:2026-03-04',
    runId: 'run-1',
    activityId: '7',
    attempt: 2,
    seq: 3,
  };

  it('follow the documented layout, one per activity attempt and group', () => {
    expect(manifestKey(manifest)).toMatch(
      /^exports\/bird\/bird-eu\/_manifests\/2026\/03\/05\/export_bird-eu_2026-03-04-[0-9a-f]{10}\/run-1-7-2-3\.json$/,
    );
    expect(manifestKey(manifest).startsWith(manifestsPrefix(manifest))).toBe(true);
    expect(manifestKey({ ...manifest, attempt: 3 })).not.toBe(manifestKey(manifest));
    expect(manifestKey({ ...manifest, seq: 4 })).not.toBe(manifestKey(manifest));
  });

  it('never fall among the objects, whatever the source calls its conversations', () => {
    for (const conversationId of ['_manifests', '__manifests', '.._manifests']) {
      const key = objectKey({ ...base, createdAt: 'not a date', conversationId });
      expect(key.startsWith(manifestsPrefix(base))).toBe(false);
    }
  });

  it('keep hostile workflow ids inside the manifests folder', () => {
    const key = manifestKey({ ...manifest, workflowId: '../../../etc', runId: '../x' });
    expect(key.startsWith('exports/bird/bird-eu/_manifests/2026/03/05/')).toBe(true);
    expect(key.split('/')).toHaveLength(9);
    expect(key.split('/').some((s) => s === '..' || s === '.')).toBe(false);
  });
});
