import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ManifestEntryRow, ProvenanceStore, SourceRow, StoredFileRecord, StoredObjectRow } from '../../src/provenance/store';
import { manifestsPrefix, objectKey } from '../../src/storage/keys';
import { manifestEntry, supersedes } from '../../src/storage/manifests';
import type { HeadResult, ObjectStore } from '../../src/storage/objectStore';
import { verify, type VerifyOptions, type VerifyProblem } from '../../src/verify/verify';

/**
 * verify()'s walk both ways against an in-memory bucket and provenance that behave as S3 and the
 * store do (sorted listing, keyset pages, the stored-is-final upsert), with enough files to cross
 * every page boundary. What each file's fate must produce is written down once, below.
 */

const BUCKET = 'bucket';
const PREFIX = 'exports';
const CONNECTION = 'bird-eu';
const WF = 'export:bird-eu:2026-03-01:2026-03-08';
const OTHER_WF = 'export:bird-eu:2026-04-01:2026-04-08';

const FATES = [
  'ok',
  'object_missing',
  'content_differs',
  'orphan_adoptable',
  'orphan_behind_failed_adoptable',
  'orphan_no_manifest',
  'orphan_behind_failed_no_manifest',
  'orphan_size_differs',
  'orphan_hash_differs',
  'failed_only',
] as const;
type Fate = (typeof FATES)[number];

/** What a first verify, a repair and a second verify say about a file of each fate. */
const EXPECTED: Record<Fate, { first: string | null; adopted: boolean; after: string | null }> = {
  ok: { first: null, adopted: false, after: null },
  object_missing: { first: 'row:object missing', adopted: false, after: 'row:object missing' },
  content_differs: { first: 'row:content', adopted: false, after: 'row:content' },
  orphan_adoptable: { first: 'orphan:no_row:size_matches', adopted: true, after: null },
  orphan_behind_failed_adoptable: { first: 'orphan:failed_row:size_matches', adopted: true, after: null },
  orphan_no_manifest: { first: 'orphan:no_row:none', adopted: false, after: 'orphan:no_row:none:no manifest entry' },
  orphan_behind_failed_no_manifest: { first: 'orphan:failed_row:none', adopted: false, after: 'orphan:failed_row:none:no manifest entry' },
  orphan_size_differs: { first: 'orphan:no_row:size_differs', adopted: false, after: 'orphan:no_row:size_differs:size differs' },
  orphan_hash_differs: { first: 'orphan:no_row:size_matches', adopted: false, after: 'orphan:no_row:size_matches:hash differs' },
  failed_only: { first: null, adopted: false, after: null },
};

interface FakeRow extends SourceRow {
  bucket: string | null;
  size: number;
  sha256: string | null;
}

class FakeBucket {
  readonly bucket = BUCKET;
  readonly objects = new Map<string, { body: Buffer; metadata: Record<string, string> }>();

  async head(key: string): Promise<HeadResult | null> {
    const o = this.objects.get(key);
    return o ? { size: o.body.length, etag: '"e"', versionId: null, metadata: o.metadata, contentType: 'audio/mpeg' } : null;
  }

  async *listKeys(prefix: string): AsyncGenerator<string> {
    // S3 lists in UTF-8 byte order.
    const keys = [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const k of keys) yield k;
  }

  async readStream(key: string): Promise<Readable> {
    const o = this.objects.get(key);
    if (!o) throw new Error(`NoSuchKey ${key}`);
    return Readable.from([o.body]);
  }
}

/** The largest batch each call was given: what verify holds at once. */
const largest = { storedKeys: 0, sourceRows: 0, indexAdd: 0, indexLookup: 0 };

class FakeProvenance {
  readonly rows = new Map<string, FakeRow>();

  async *storedRowPages(filter: { connection: string; workflowId?: string }, pageSize: number): AsyncGenerator<StoredObjectRow[]> {
    const all = [...this.rows.entries()]
      .filter(([, r]) => r.status === 'stored' && (filter.workflowId === undefined || r.workflowId === filter.workflowId))
      .sort(([a], [b]) => (a < b ? -1 : 1));
    for (let i = 0; i < all.length; i += pageSize) {
      yield all
        .slice(i, i + pageSize)
        .map(([sourceId, r]) => ({ sourceId, bucket: r.bucket!, objectKey: r.objectKey!, size: r.size, sha256: r.sha256! }));
    }
  }

  async storedKeys(bucket: string, keys: readonly string[]): Promise<Set<string>> {
    largest.storedKeys = Math.max(largest.storedKeys, keys.length);
    const stored = new Set([...this.rows.values()].filter((r) => r.status === 'stored' && r.bucket === bucket).map((r) => r.objectKey));
    return new Set(keys.filter((k) => stored.has(k)));
  }

  async sourceRows(_connection: string, ids: readonly string[]): Promise<Map<string, SourceRow>> {
    largest.sourceRows = Math.max(largest.sourceRows, ids.length);
    return new Map(ids.flatMap((id) => (this.rows.has(id) ? [[id, this.rows.get(id)!] as const] : [])));
  }

  async adoptStored(record: StoredFileRecord): Promise<boolean> {
    const existing = this.rows.get(record.item.sourceId);
    if (existing?.status === 'stored') return false;
    this.rows.set(record.item.sourceId, {
      status: 'stored',
      failureCode: null,
      objectKey: record.objectKey,
      workflowId: record.execution.workflowId,
      bucket: record.bucket,
      size: record.size,
      sha256: record.sha256,
    });
    return true;
  }

  async openManifestIndex() {
    const entries = new Map<string, ManifestEntryRow>();
    return {
      async add(batch: readonly ManifestEntryRow[]) {
        largest.indexAdd = Math.max(largest.indexAdd, batch.length);
        if (new Set(batch.map((e) => e.objectKey)).size !== batch.length) throw new Error('ON CONFLICT cannot affect a row twice');
        for (const e of batch) if (supersedes(e, entries.get(e.objectKey))) entries.set(e.objectKey, e);
      },
      async lookup(keys: readonly string[]) {
        largest.indexLookup = Math.max(largest.indexLookup, keys.length);
        return new Map(keys.flatMap((k) => (entries.has(k) ? [[k, entries.get(k)!] as const] : [])));
      },
      async close() {},
    };
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Files of the given fates, written the way an export (and then the damage) would leave them. */
function scenario(fates: readonly Fate[], workflowOf: (i: number) => string = () => WF) {
  const bucket = new FakeBucket();
  const provenance = new FakeProvenance();
  const manifests = new Map<string, unknown[]>();
  const keyOf = new Map<string, Fate>();
  fates.forEach((fate, i) => {
    const sourceId = `rec-${String(i).padStart(5, '0')}`;
    const body = Buffer.from(`recording ${i} `.repeat((i % 7) + 1));
    const key = objectKey({
      prefix: PREFIX,
      provider: 'bird',
      connection: CONNECTION,
      createdAt: `2026-03-0${(i % 7) + 1}T00:00:00Z`,
      conversationId: `call-${i % 13}`,
      sourceId,
      extension: '.mp3',
    });
    keyOf.set(key, fate);
    const workflowId = workflowOf(i);
    const record: StoredFileRecord = {
      provider: 'bird',
      connection: CONNECTION,
      item: { sourceId, kind: 'recording', conversationId: `call-${i % 13}`, createdAt: '2026-03-01T00:00:00Z', locator: {} },
      sourceUrl: `https://api.bird.com/recordings/${sourceId}`,
      bucket: BUCKET,
      objectKey: key,
      versionId: null,
      etag: '"e"',
      size: body.length,
      sha256: sha(body),
      contentType: 'audio/mpeg',
      execution: { workflowId, runId: 'run-1', attempt: 1 },
      startedAt: new Date('2026-03-09T00:00:00Z'),
      finishedAt: new Date(Date.UTC(2026, 2, 9, 0, 0, i % 60)),
    };
    const hasManifest = !['orphan_no_manifest', 'orphan_behind_failed_no_manifest', 'failed_only'].includes(fate);
    const hasObject = !['object_missing', 'failed_only'].includes(fate);
    const row =
      fate === 'ok' || fate === 'object_missing' || fate === 'content_differs' ? 'stored' : fate.includes('failed') ? 'failed' : null;
    if (hasManifest) {
      // Groups of up to 32 per manifest, as Bookkeeping writes them.
      const mkey = `${manifestsPrefix({ prefix: PREFIX, provider: 'bird', connection: CONNECTION })}2026/03/09/${workflowId}/run-1-${Math.floor(i / 32)}.json`;
      manifests.set(mkey, [...(manifests.get(mkey) ?? []), manifestEntry(record)]);
      if (fate === 'ok' && i % 5 === 0) {
        // An earlier attempt's entry for the same file in another manifest, listed after the newer one: the newer one counts.
        const stale = `${manifestsPrefix({ prefix: PREFIX, provider: 'bird', connection: CONNECTION })}2026/03/09/${workflowId}/stale-${i}.json`;
        manifests.set(stale, [
          {
            ...manifestEntry(record),
            object: { ...manifestEntry(record).object, sha256: 'f'.repeat(64) },
            transferredAt: '2026-03-08T00:00:00.000Z',
          },
        ]);
      }
    }
    if (hasObject) {
      let stored = body;
      if (fate === 'content_differs' || fate === 'orphan_hash_differs') stored = Buffer.from(body.toString().toUpperCase());
      if (fate === 'orphan_size_differs') stored = Buffer.concat([body, Buffer.from('!')]);
      bucket.objects.set(key, {
        body: stored,
        metadata: { provider: 'bird', connection: CONNECTION, 'source-id': encodeURIComponent(sourceId), sha256: record.sha256 },
      });
    }
    if (row === 'stored')
      provenance.rows.set(sourceId, {
        status: 'stored',
        failureCode: null,
        objectKey: key,
        workflowId,
        bucket: BUCKET,
        size: body.length,
        sha256: record.sha256,
      });
    if (row === 'failed')
      provenance.rows.set(sourceId, {
        status: 'failed',
        failureCode: 'gave_up',
        objectKey: null,
        workflowId,
        bucket: null,
        size: 0,
        sha256: null,
      });
  });
  for (const [mkey, files] of manifests) {
    const workflowId = mkey.split('/').at(-2)!;
    const header = {
      manifest: 1,
      provider: 'bird',
      connection: CONNECTION,
      bucket: BUCKET,
      export: { workflowId, runId: 'run-1', attempt: 1 },
      writtenAt: '2026-03-09T00:00:00Z',
    };
    bucket.objects.set(mkey, { body: Buffer.from(JSON.stringify({ ...header, files })), metadata: {} });
  }
  const run = async (options: Partial<VerifyOptions> = {}, workflowId?: string) => {
    const problems: VerifyProblem[] = [];
    const adopted: string[] = [];
    const summary = await verify(
      { provenance: provenance as unknown as ProvenanceStore, store: bucket as unknown as ObjectStore },
      [{ connection: CONNECTION, provider: 'bird', ...(workflowId ? { workflowId } : {}) }],
      { keyPrefix: PREFIX, ...options },
      { problem: (p) => problems.push(p), adopted: (a) => adopted.push(a.key) },
    );
    return { summary, problems, adopted };
  };
  return { run, keyOf, bucket, provenance };
}

/** A problem in the shape EXPECTED writes it. */
function shape(p: VerifyProblem): string {
  if (p.kind === 'row') return p.problem.startsWith('content sha256') ? 'row:content' : `row:${p.problem}`;
  const o = p.orphan!;
  return ['orphan', o.source, o.manifest, ...(o.notAdopted ? [o.notAdopted] : [])].join(':');
}

function byKey(problems: VerifyProblem[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const p of problems) {
    expect(found.has(p.key), `${p.key} reported twice`).toBe(false);
    found.set(p.key, shape(p));
  }
  return found;
}

function expected(keyOf: Map<string, Fate>, when: 'first' | 'after'): Map<string, string> {
  return new Map([...keyOf].flatMap(([key, fate]) => (EXPECTED[fate][when] ? [[key, EXPECTED[fate][when]!] as const] : [])));
}

async function checkAllWays(fates: readonly Fate[]): Promise<void> {
  const s = scenario(fates);
  const first = await s.run();
  expect(byKey(first.problems)).toEqual(expected(s.keyOf, 'first'));
  const orphans = fates.filter((f) => f.startsWith('orphan')).length;
  expect(first.summary).toMatchObject({
    listed: fates.filter((f) => f !== 'object_missing' && f !== 'failed_only').length,
    orphans,
    adopted: 0,
    problems: first.problems.length,
  });

  const repair = await s.run({ repair: true });
  expect(new Set(repair.adopted)).toEqual(new Set([...s.keyOf].filter(([, f]) => EXPECTED[f].adopted).map(([k]) => k)));
  expect(byKey(repair.problems)).toEqual(expected(s.keyOf, 'after'));
  expect(repair.summary).toMatchObject({ orphans, adopted: repair.adopted.length });

  const after = await s.run();
  expect(byKey(after.problems)).toEqual(
    new Map([...expected(s.keyOf, 'after')].map(([k, v]) => [k, v.replace(/:(no manifest entry|size differs|hash differs)$/, '')])),
  );
  // The adopted files are stored rows now, checked like any other.
  expect(after.summary.checked).toBe(
    fates.filter((f) => ['ok', 'object_missing', 'content_differs'].includes(f)).length + repair.adopted.length,
  );
}

describe('verify, both ways, against an in-memory bucket and provenance', () => {
  it('reports, adopts and leaves each fate as written down, for any mix of fates', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...FATES), { maxLength: 40 }), (fates) => checkAllWays(fates)),
      { numRuns: 40 },
    );
  });

  it('holds one page at a time across the row, key and manifest page boundaries', async () => {
    // 2,600 files: 5+ pages of rows, 3 listing pages of keys (manifests among them), 60+ manifests.
    const fates = Array.from({ length: 2600 }, (_, i) => FATES[(i * 7 + (i >> 3)) % FATES.length]!);
    await checkAllWays(fates);
    expect(largest.storedKeys).toBeGreaterThan(900);
    expect(largest.storedKeys).toBeLessThanOrEqual(1000);
    expect(largest.sourceRows).toBeLessThanOrEqual(1000);
    expect(largest.indexLookup).toBeLessThanOrEqual(1000);
    expect(largest.indexAdd).toBeLessThanOrEqual(64 * 32);
  });

  it('answers for one export only when asked: its rows, and the orphans its manifests or rows name', async () => {
    const fates: Fate[] = [
      'object_missing',
      'orphan_adoptable',
      'orphan_behind_failed_no_manifest',
      'orphan_no_manifest',
      'object_missing',
      'orphan_adoptable',
    ];
    const s = scenario(fates, (i) => (i < 3 ? WF : OTHER_WF));
    const mine = await s.run({}, WF);
    const keys = [...s.keyOf.keys()];
    expect(byKey(mine.problems)).toEqual(
      new Map([
        [keys[0]!, 'row:object missing'],
        [keys[1]!, 'orphan:no_row:size_matches'],
        // Named by its failed row, though no manifest has it.
        [keys[2]!, 'orphan:failed_row:none'],
      ]),
    );
    // The orphan nothing names is the connection's, not an export's.
    expect((await s.run()).problems.map((p) => p.key)).toContain(keys[3]);
  });

  it('skips the content re-read with content: false, and the walk with walkBucket: false', async () => {
    const s = scenario(['content_differs', 'orphan_no_manifest', 'ok']);
    const fast = await s.run({ content: false, walkBucket: false });
    expect(fast.problems).toEqual([]);
    expect(fast.summary).toMatchObject({ checked: 2, listed: null, orphans: 0 });
  });

  it('reports a manifest it cannot read, and goes on', async () => {
    const s = scenario(['ok']);
    const broken = `${manifestsPrefix({ prefix: PREFIX, provider: 'bird', connection: CONNECTION })}2026/03/09/x/broken.json`;
    s.bucket.objects.set(broken, { body: Buffer.from('{"files": [{"object": {}}]}'), metadata: {} });
    const { problems } = await s.run();
    expect(problems).toEqual([
      expect.objectContaining({
        kind: 'manifest',
        key: broken,
        problem: expect.stringMatching(/^unreadable manifest: files\[0\]: needs object.key/),
      }),
    ]);
  });
});
