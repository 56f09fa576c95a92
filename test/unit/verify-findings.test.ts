import { describe, expect, it } from 'vitest';
import type { ManifestEntryRow, SourceRow, StoredObjectRow } from '../../src/provenance/store';
import type { ManifestEntry, ManifestHeader } from '../../src/storage/manifests';
import type { HeadResult } from '../../src/storage/objectStore';
import {
  adoptionBlocker,
  adoptionRecord,
  dataKeys,
  describeOrphan,
  orphanInScope,
  orphanKeys,
  orphanSourceId,
  orphanText,
  rowProblems,
} from '../../src/verify/findings';

const SHA = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const key = 'exports/bird/bird-eu/2026/03/04/call-1/rec-1.mp3';
const row: StoredObjectRow = { sourceId: 'rec-1', bucket: 'b', objectKey: key, size: 10, sha256: SHA };
const head = (over: Partial<HeadResult> = {}): HeadResult => ({
  size: 10,
  etag: '"e"',
  versionId: null,
  metadata: { sha256: SHA },
  contentType: 'audio/mpeg',
  ...over,
});
const entry = (over: Partial<ManifestEntryRow> = {}): ManifestEntryRow => ({
  objectKey: key,
  size: 10,
  sha256: SHA,
  sourceId: 'rec-1',
  workflowId: 'export:bird-eu:a:b',
  manifestKey: 'exports/bird/bird-eu/_manifests/m.json',
  transferredAt: '2026-03-05T00:00:00.000Z',
  ...over,
});

describe('a stored row against its object', () => {
  it('has no problem when object, metadata, manifest and content agree', () => {
    expect(rowProblems(row, 'b', head(), entry(), SHA)).toEqual([]);
    // Without a re-read (--no-content) the content is not judged.
    expect(rowProblems(row, 'b', head(), entry(), null)).toEqual([]);
  });

  it('judges a multipart object, which has no SHA-256 in its metadata, by its ETag', () => {
    const withEtag = { ...row, etag: 'e' };
    expect(rowProblems(withEtag, 'b', head({ metadata: {} }), entry(), null)).toEqual([]);
    expect(rowProblems(withEtag, 'b', head({ metadata: {}, etag: '"f-2"' }), entry(), null)).toEqual([
      'object rewritten: etag f-2, provenance says e',
    ]);
    expect(rowProblems(withEtag, 'b', head({ metadata: { sha256: OTHER } }), entry(), null)).toEqual([
      `metadata sha256 ${OTHER} differs from provenance`,
    ]);
  });

  it('says the object is missing, and nothing else, when HEAD finds none', () => {
    expect(rowProblems(row, 'b', null, entry(), null)).toEqual(['object missing']);
  });

  it('names the bucket when the row was recorded in another one', () => {
    expect(rowProblems(row, 'other', head(), entry(), SHA)).toEqual(['recorded in bucket b, verifying other']);
  });

  it('reports each way the object differs', () => {
    const problems = rowProblems(row, 'b', head({ size: 11, metadata: {} }), undefined, OTHER);
    expect(problems).toEqual(['size 11, provenance says 10', 'in no manifest', `content sha256 ${OTHER} differs from provenance ${SHA}`]);
    expect(rowProblems(row, 'b', head(), entry({ sha256: OTHER }), SHA)).toEqual([
      `manifest ${entry().manifestKey} differs from provenance`,
    ]);
  });
});

describe('the bucket walk', () => {
  const manifests = 'exports/bird/bird-eu/_manifests/';

  it('leaves manifests out of the data objects', () => {
    expect(dataKeys([key, `${manifests}2026/03/05/wf/run-1-1-1.json`, 'exports/bird/bird-eu/undated/c/x.mp3'], manifests)).toEqual([
      key,
      'exports/bird/bird-eu/undated/c/x.mp3',
    ]);
  });

  it('finds the keys no stored row names, in listing order, ignoring rows for keys outside the page', () => {
    const page = ['k/3', 'k/1', 'k/2'];
    expect(orphanKeys(page, new Set(['k/1', 'k/9']))).toEqual(['k/3', 'k/2']);
    expect(orphanKeys(page, new Set(page))).toEqual([]);
  });
});

describe('an orphan', () => {
  const failed: SourceRow = { status: 'failed', failureCode: 'gave_up', objectKey: null, workflowId: 'export:bird-eu:a:b' };
  const storedElsewhere: SourceRow = {
    status: 'stored',
    failureCode: null,
    objectKey: 'exports/bird/bird-eu/undated/call-1/rec-1.mp3',
    workflowId: 'w',
  };

  it('takes its source from its manifest entry, else from the object metadata', () => {
    expect(orphanSourceId(entry(), { 'source-id': 'meta' })).toBe('rec-1');
    expect(orphanSourceId(undefined, { 'source-id': encodeURIComponent('a/b c') })).toBe('a/b c');
    expect(orphanSourceId(undefined, { 'source-id': '%E0%A4%A' })).toBe('%E0%A4%A');
    expect(orphanSourceId(undefined, {})).toBeNull();
  });

  it("is classified by its manifest entry and its source's row", () => {
    expect(describeOrphan(10, entry(), undefined)).toMatchObject({ manifest: 'size_matches', source: 'no_row', failureCode: null });
    expect(describeOrphan(12, entry(), failed)).toMatchObject({
      manifest: 'size_differs',
      manifestSize: 10,
      size: 12,
      source: 'failed_row',
      failureCode: 'gave_up',
    });
    expect(describeOrphan(10, undefined, storedElsewhere)).toMatchObject({
      manifest: 'none',
      manifestKey: null,
      source: 'stored_elsewhere',
    });
  });

  it('is adoptable only with a manifest entry of its size and no stored row elsewhere', () => {
    expect(adoptionBlocker(describeOrphan(10, entry(), undefined))).toBeNull();
    expect(adoptionBlocker(describeOrphan(10, entry(), failed))).toBeNull();
    expect(adoptionBlocker(describeOrphan(10, undefined, undefined))).toBe('no manifest entry');
    expect(adoptionBlocker(describeOrphan(9, entry(), undefined))).toBe('size differs');
    expect(adoptionBlocker(describeOrphan(10, entry(), storedElsewhere))).toBe('source stored at another key');
  });

  it('reads as one line that says what is known and why it stayed', () => {
    const detail = { ...describeOrphan(12, entry(), failed), notAdopted: 'size differs' as const };
    expect(orphanText(detail)).toBe(
      `stored object behind a failed row (gave_up); manifest ${entry().manifestKey} says 10 bytes, the object has 12; not adopted: size differs`,
    );
    expect(orphanText(describeOrphan(10, undefined, undefined))).toBe('object without a stored row; no manifest entry');
    expect(orphanText(describeOrphan(10, entry(), storedElsewhere), storedElsewhere.objectKey)).toContain(
      `its source is stored at ${storedElsewhere.objectKey}`,
    );
  });

  it("belongs to an export when its manifest or its source's row names the export", () => {
    expect(orphanInScope(undefined, undefined, undefined)).toBe(true);
    expect(orphanInScope('export:bird-eu:a:b', entry(), undefined)).toBe(true);
    expect(orphanInScope('export:bird-eu:a:b', undefined, failed)).toBe(true);
    expect(orphanInScope('export:other', entry(), failed)).toBe(false);
    expect(orphanInScope('export:other', undefined, undefined)).toBe(false);
  });
});

describe('the row an adopted object gets', () => {
  const manifestEntry: ManifestEntry = {
    source: {
      id: 'rec-\u0000-1',
      kind: 'recording',
      conversationId: 'call-1',
      messageId: null,
      originalName: 'a.mp3',
      createdAt: '2026-03-04T05:06:07Z',
      url: 'https://api.bird.com/x',
    },
    object: { key, size: 10, sha256: SHA, contentType: 'audio/mpeg', etag: '"e"', versionId: null },
    transferredAt: '2026-03-05T00:00:00.000Z',
  };
  const header: ManifestHeader = {
    provider: 'bird',
    connection: 'bird-eu',
    bucket: 'b',
    export: { workflowId: 'wf', runId: 'run', attempt: 2 },
    exportRun: 'first-run',
  };
  const where = { provider: 'bird', connection: 'bird-eu', bucket: 'b' };

  it('carries the source identity, object and export attempt from the manifest', () => {
    const record = adoptionRecord(manifestEntry, header, where);
    expect(record).toMatchObject({
      provider: 'bird',
      connection: 'bird-eu',
      item: {
        sourceId: 'rec-\u0000-1',
        kind: 'recording',
        conversationId: 'call-1',
        originalName: 'a.mp3',
        createdAt: '2026-03-04T05:06:07Z',
      },
      sourceUrl: 'https://api.bird.com/x',
      bucket: 'b',
      objectKey: key,
      size: 10,
      sha256: SHA,
      contentType: 'audio/mpeg',
      execution: { workflowId: 'wf', runId: 'run', attempt: 2 },
    });
    expect(record).not.toHaveProperty('item.messageId');
    expect(typeof record !== 'string' && record.finishedAt.toISOString()).toBe('2026-03-05T00:00:00.000Z');
  });

  it.each([
    ['a header without the export', { ...manifestEntry }, { ...header, export: null }],
    ['an entry without its source', { ...manifestEntry, source: undefined as unknown as ManifestEntry['source'] }, header],
    ['an unknown kind', { ...manifestEntry, source: { ...manifestEntry.source, kind: 'video' } }, header],
    ['an unreadable transfer time', { ...manifestEntry, transferredAt: 'yesterday' }, header],
  ])('is refused for %s', (_what, e, h) => {
    expect(adoptionRecord(e, h, where)).toBe('manifest entry incomplete');
  });
});
