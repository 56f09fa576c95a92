import type { ManifestEntryRow, ManifestIndexTable, ProvenanceStore, SourceRow, StoredObjectRow } from '../provenance/store';
import { connectionPrefix, manifestsPrefix } from '../storage/keys';
import { readManifest, supersedes, type ManifestRead } from '../storage/manifests';
import type { ObjectStore } from '../storage/objectStore';
import { sha256OfObject } from '../transfer/verify';
import {
  adoptionBlocker,
  adoptionRecord,
  dataKeys,
  describeOrphan,
  eraseAgainCommand,
  orphanInScope,
  orphanKeys,
  orphanSourceId,
  orphanText,
  rowProblems,
  type Adoption,
  type NotAdoptedReason,
  type OrphanDetail,
  type VerifyProblem,
} from './findings';
import { mapLimit, pagesOf } from './parallel';
import { resolveTargets, type TargetRequest, type VerifyTarget } from './targets';

export type { Adoption, VerifyProblem } from './findings';
export { UnknownTargetError, type VerifyTarget } from './targets';

/** Stored rows per page (keyset pagination), and S3's own listing page. */
const ROWS_PER_PAGE = 500;
const KEYS_PER_PAGE = 1000;
/** Manifests read at once, and manifest entries per INSERT into the index. */
const MANIFESTS_AT_ONCE = 8;
const MANIFESTS_PER_BATCH = 64;
/** Objects re-read at once (each a stream of socket buffers), and HEADs at once. */
const CONTENT_AT_ONCE = 4;
const HEADS_AT_ONCE = 8;
/** Full manifests kept for adoptions: orphans of one lost group share their manifest. */
const MANIFESTS_CACHED = 16;

export interface VerifyOptions {
  /** The configured key prefix (storage.prefix): where the connections' objects and manifests are. */
  keyPrefix: string;
  /** Re-read each stored object and hash it (default true); without it, HEAD, metadata and manifests only. */
  content?: boolean;
  /** List the connection's folder for objects no stored row names (default true). */
  walkBucket?: boolean;
  /** Adopt an orphan whose size and SHA-256 match its manifest entry: write its stored row. Never deletes. */
  repair?: boolean;
}

export interface VerifySummary {
  connections: number;
  /** Stored rows checked, and the bytes of their objects. */
  checked: number;
  bytes: number;
  /** Data objects listed in the connections' folders; null when the bucket was not walked. */
  listed: number | null;
  /** Objects no stored row names (in scope), before repair. */
  orphans: number;
  adopted: number;
  /** What is still wrong after repair: row, orphan and manifest problems. */
  problems: number;
}

export interface VerifySink {
  problem?(problem: VerifyProblem): void;
  adopted?(adoption: Adoption): void;
  /** Called often; throttle before drawing. */
  progress?(summary: VerifySummary, connection: string): void;
}

/**
 * Checks each target connection both ways: every stored row against its object (present, size,
 * metadata SHA-256, manifest entry, content SHA-256), and every data object in its folder against
 * the rows (an object no stored row names is an orphan). Findings go to `sink` as they are found;
 * memory holds a page of rows, a page of keys and a few manifests, never a whole connection
 * (manifest entries are indexed in a temporary table in Postgres).
 */
export async function verify(
  deps: { provenance: ProvenanceStore; store: ObjectStore },
  targets: readonly VerifyTarget[],
  options: VerifyOptions,
  sink: VerifySink = {},
): Promise<VerifySummary> {
  const summary: VerifySummary = {
    connections: 0,
    checked: 0,
    bytes: 0,
    listed: options.walkBucket === false ? null : 0,
    orphans: 0,
    adopted: 0,
    problems: 0,
  };
  for (const target of targets) {
    summary.connections++;
    const index = await deps.provenance.openManifestIndex();
    try {
      await new ConnectionVerifier(deps.provenance, deps.store, index, target, options, summary, sink).run();
    } finally {
      await index.close();
    }
  }
  return summary;
}

export interface VerifyReport {
  checked: number;
  bytes: number;
  listed: number | null;
  problems: VerifyProblem[];
  adopted: Adoption[];
  summary: VerifySummary;
}

/** verify() with the findings collected: for tests and small connections. */
export async function verifyObjects(
  provenance: ProvenanceStore,
  store: ObjectStore,
  options: VerifyOptions & TargetRequest,
  onProgress: (summary: VerifySummary) => void = () => undefined,
): Promise<VerifyReport> {
  const targets = await resolveTargets(provenance, options);
  const problems: VerifyProblem[] = [];
  const adopted: Adoption[] = [];
  const summary = await verify({ provenance, store }, targets, options, {
    problem: (p) => problems.push(p),
    adopted: (a) => adopted.push(a),
    progress: (s) => onProgress(s),
  });
  return { checked: summary.checked, bytes: summary.bytes, listed: summary.listed, problems, adopted, summary };
}

interface Orphan {
  key: string;
  sourceId: string | null;
  entry: ManifestEntryRow | undefined;
  row: SourceRow | undefined;
  detail: OrphanDetail;
}

class ConnectionVerifier {
  private readonly manifests: string;
  private readonly cached = new Map<string, ManifestRead>();

  constructor(
    private readonly provenance: ProvenanceStore,
    private readonly store: ObjectStore,
    private readonly index: ManifestIndexTable,
    private readonly target: VerifyTarget,
    private readonly options: VerifyOptions,
    private readonly summary: VerifySummary,
    private readonly sink: VerifySink,
  ) {
    this.manifests = target.provider
      ? manifestsPrefix({ prefix: options.keyPrefix, provider: target.provider, connection: target.connection })
      : '';
  }

  async run(): Promise<void> {
    // Without a provider there is no folder: the rows (if any) are checked, and found missing.
    if (this.target.provider) await this.indexManifests();
    await this.checkRows();
    if (this.target.provider && this.options.walkBucket !== false) await this.walkBucket(this.target.provider);
  }

  private problem(p: Omit<VerifyProblem, 'connection'>): void {
    this.summary.problems++;
    this.sink.problem?.({ connection: this.target.connection, ...p });
  }

  private progress(): void {
    this.sink.progress?.(this.summary, this.target.connection);
  }

  /** Every manifest of the connection into the index, a batch of manifests at a time. */
  private async indexManifests(): Promise<void> {
    const keys = this.store.listKeys(this.manifests);
    for await (const batch of pagesOf(keys, MANIFESTS_PER_BATCH)) {
      const reads = await mapLimit(batch, MANIFESTS_AT_ONCE, (key) => readManifest(this.store, key));
      const newest = new Map<string, ManifestEntryRow>();
      for (const manifest of reads) {
        if ('unreadable' in manifest) {
          this.problem({ kind: 'manifest', key: manifest.key, sourceId: null, problem: `unreadable manifest: ${manifest.unreadable}` });
          continue;
        }
        for (const f of manifest.files) {
          const row = {
            objectKey: f.object.key,
            size: f.object.size,
            sha256: f.object.sha256,
            sourceId: typeof f.source?.id === 'string' ? f.source.id : null,
            workflowId: manifest.header.export?.workflowId ?? null,
            manifestKey: manifest.key,
            transferredAt: f.transferredAt,
          };
          if (supersedes(row, newest.get(row.objectKey))) newest.set(row.objectKey, row);
        }
      }
      await this.index.add([...newest.values()]);
    }
  }

  /** Every stored row (of the export, when one is named) against its object and manifest entry. */
  private async checkRows(): Promise<void> {
    const filter = { connection: this.target.connection, ...(this.target.workflowId ? { workflowId: this.target.workflowId } : {}) };
    for await (const page of this.provenance.storedRowPages(filter, ROWS_PER_PAGE)) {
      const entries = await this.index.lookup(page.map((r) => r.objectKey));
      const results = await mapLimit(page, CONTENT_AT_ONCE, (row) => this.checkRow(row, entries.get(row.objectKey)));
      for (const [i, problems] of results.entries()) {
        const row = page[i]!;
        for (const problem of problems) this.problem({ kind: 'row', key: row.objectKey, sourceId: row.sourceId, problem });
      }
    }
  }

  private async checkRow(row: StoredObjectRow, entry: ManifestEntryRow | undefined): Promise<string[]> {
    const head = row.bucket === this.store.bucket ? await this.store.head(row.objectKey) : null;
    const content = head && this.options.content !== false ? await sha256OfObject(this.store, row.objectKey) : null;
    this.summary.checked++;
    this.summary.bytes += head?.size ?? 0;
    this.progress();
    return rowProblems(row, this.store.bucket, head, entry, content);
  }

  /** Lists the connection's folder a page at a time; asks provenance which keys of the page it has. */
  private async walkBucket(provider: string): Promise<void> {
    const folder = connectionPrefix({ prefix: this.options.keyPrefix, provider, connection: this.target.connection });
    for await (const page of pagesOf(this.store.listKeys(folder), KEYS_PER_PAGE)) {
      const keys = dataKeys(page, this.manifests);
      this.summary.listed = (this.summary.listed ?? 0) + keys.length;
      const orphans = orphanKeys(keys, await this.provenance.storedKeys(this.store.bucket, keys));
      if (orphans.length > 0) {
        for (const orphan of await this.examine(orphans)) await this.settle(orphan);
      }
      this.progress();
    }
  }

  /** What the object, its manifest entry and its source's row say about each orphan; only those in scope. */
  private async examine(keys: string[]): Promise<Orphan[]> {
    const heads = await mapLimit(keys, HEADS_AT_ONCE, (key) => this.store.head(key));
    const entries = await this.index.lookup(keys);
    const found = keys.flatMap((key, i) => {
      const head = heads[i];
      // Gone since it was listed (a delete racing the walk): nothing to say about it.
      return head ? [{ key, head, entry: entries.get(key), sourceId: orphanSourceId(entries.get(key), head.metadata) }] : [];
    });
    const rows = await this.provenance.sourceRows(
      this.target.connection,
      found.flatMap((f) => (f.sourceId === null ? [] : [f.sourceId])),
    );
    return found.flatMap(({ key, head, entry, sourceId }) => {
      const row = sourceId === null ? undefined : rows.get(sourceId);
      if (!orphanInScope(this.target.workflowId, entry, row)) return [];
      return [{ key, sourceId, entry, row, detail: describeOrphan(head.size, entry, row) }];
    });
  }

  /** Reports an orphan, after adopting it when --repair may. */
  private async settle(orphan: Orphan): Promise<void> {
    this.summary.orphans++;
    if (this.options.repair) {
      const outcome = await this.adopt(orphan);
      if (outcome === 'adopted') return;
      orphan.detail.notAdopted = outcome;
    }
    const fix = eraseAgainCommand(this.target.connection, orphan.sourceId);
    this.problem({
      kind: 'orphan',
      key: orphan.key,
      sourceId: orphan.sourceId,
      problem: orphanText(orphan.detail, orphan.row?.objectKey, fix),
      orphan: orphan.detail,
    });
  }

  private async adopt(orphan: Orphan): Promise<'adopted' | NotAdoptedReason> {
    const blocker = adoptionBlocker(orphan.detail);
    if (blocker || !orphan.entry || !this.target.provider) return blocker ?? 'no manifest entry';
    if ((await sha256OfObject(this.store, orphan.key)) !== orphan.entry.sha256) return 'hash differs';
    const manifest = await this.manifest(orphan.entry.manifestKey);
    const entry = 'files' in manifest ? manifest.files.filter((f) => f.object.key === orphan.key).at(-1) : undefined;
    if (!entry || !('header' in manifest)) return 'manifest entry incomplete';
    const record = adoptionRecord(entry, manifest.header, {
      provider: this.target.provider,
      connection: this.target.connection,
      bucket: this.store.bucket,
    });
    if (typeof record === 'string') return record;
    if (record.sha256 !== orphan.entry.sha256 || record.size !== orphan.detail.size) return 'hash differs';
    if (!(await this.provenance.adoptStored(record, manifest.header.exportRun))) return 'a stored row was written meanwhile';
    this.summary.adopted++;
    this.sink.adopted?.({
      connection: this.target.connection,
      key: orphan.key,
      sourceId: record.item.sourceId,
      manifestKey: orphan.entry.manifestKey,
      replacedFailedRow: orphan.detail.source === 'failed_row',
    });
    return 'adopted';
  }

  private async manifest(key: string): Promise<ManifestRead> {
    let manifest = this.cached.get(key);
    if (!manifest) {
      if (this.cached.size >= MANIFESTS_CACHED) this.cached.clear();
      manifest = await readManifest(this.store, key);
      this.cached.set(key, manifest);
    }
    return manifest;
  }
}
