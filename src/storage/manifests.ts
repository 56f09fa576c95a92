import { text } from 'node:stream/consumers';
import type { StoredFileRecord } from '../provenance/store';
import type { ObjectStore } from './objectStore';
import { errorMessage } from '../contracts/failures';

/** One stored file as its manifest describes it. */
export interface ManifestEntry {
  source: {
    id: string;
    kind: string;
    conversationId: string;
    messageId: string | null;
    originalName: string | null;
    createdAt: string;
    url: string;
  };
  object: { key: string; size: number; sha256: string; contentType: string; etag: string; versionId: string | null };
  transferredAt: string;
}

/** A stored file's manifest entry: what its provenance row says, in the shape readManifests reads. */
export function manifestEntry(record: StoredFileRecord): ManifestEntry {
  const { item } = record;
  return {
    source: {
      id: item.sourceId,
      kind: item.kind,
      conversationId: item.conversationId,
      messageId: item.messageId ?? null,
      originalName: item.originalName ?? null,
      createdAt: item.createdAt,
      url: record.sourceUrl,
    },
    object: {
      key: record.objectKey,
      size: record.size,
      sha256: record.sha256,
      contentType: record.contentType,
      etag: record.etag,
      versionId: record.versionId,
    },
    transferredAt: record.finishedAt.toISOString(),
  };
}

export interface ManifestIndex {
  /** The newest entry per object key (a retried transfer can appear in two manifests). */
  entries: Map<string, ManifestEntry & { manifestKey: string }>;
  /** Manifests that could not be read as one: key and reason. */
  unreadable: Array<{ key: string; reason: string }>;
}

/** What a manifest says about itself: the export attempt that wrote it (see transferBatch). */
export interface ManifestHeader {
  provider: string | null;
  connection: string | null;
  bucket: string | null;
  /** The workflow execution and activity attempt that wrote it; null when the manifest does not say. */
  export: { workflowId: string; runId: string; attempt: number } | null;
  /** The export's first run id, where the writer recorded one. */
  exportRun: string | null;
}

/** One manifest read from the store: its header and entries, or why it could not be read. */
export type ManifestRead = { key: string; header: ManifestHeader; files: ManifestEntry[] } | { key: string; unreadable: string };

/** Reads one manifest. A manifest is small (one group of files), so it is parsed whole. */
export async function readManifest(store: Pick<ObjectStore, 'readStream'>, key: string): Promise<ManifestRead> {
  try {
    const value: unknown = JSON.parse(await text(await store.readStream(key)));
    return { key, header: manifestHeader(value), files: manifestFiles(value) };
  } catch (err) {
    return { key, unreadable: errorMessage(err) };
  }
}

/** Every manifest under `prefix` (see manifestsPrefix in keys.ts), one at a time: memory holds one manifest. */
export async function* eachManifest(store: Pick<ObjectStore, 'readStream' | 'listKeys'>, prefix: string): AsyncGenerator<ManifestRead> {
  for await (const key of store.listKeys(prefix)) yield readManifest(store, key);
}

/** Whether `entry` replaces `seen` for the same object key: the newer transfer wins, a tie goes to the later read. */
export function supersedes(entry: { transferredAt: string }, seen: { transferredAt: string } | undefined): boolean {
  return !seen || seen.transferredAt <= entry.transferredAt;
}

/** Reads every manifest under `prefix` into an index by object key (all in memory: for tests and small connections). */
export async function readManifests(store: ObjectStore, prefix: string): Promise<ManifestIndex> {
  const index: ManifestIndex = { entries: new Map(), unreadable: [] };
  for await (const manifest of eachManifest(store, prefix)) {
    if ('unreadable' in manifest) {
      index.unreadable.push({ key: manifest.key, reason: manifest.unreadable });
      continue;
    }
    for (const entry of manifest.files) {
      if (supersedes(entry, index.entries.get(entry.object.key)))
        index.entries.set(entry.object.key, { ...entry, manifestKey: manifest.key });
    }
  }
  return index;
}

function manifestHeader(value: unknown): ManifestHeader {
  const v = (value ?? {}) as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  const exec = (v.export ?? null) as Record<string, unknown> | null;
  const complete = exec !== null && typeof exec.workflowId === 'string' && typeof exec.runId === 'string' && Number.isInteger(exec.attempt);
  return {
    provider: str(v.provider),
    connection: str(v.connection),
    bucket: str(v.bucket),
    export: complete ? { workflowId: exec.workflowId as string, runId: exec.runId as string, attempt: exec.attempt as number } : null,
    exportRun: str(v.exportRun),
  };
}

function manifestFiles(value: unknown): ManifestEntry[] {
  const files = (value as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) throw new Error('no "files" array');
  return files.map((f: unknown, i) => {
    const e = f as Partial<ManifestEntry> | null;
    if (
      typeof e?.object?.key !== 'string' ||
      typeof e.object.sha256 !== 'string' ||
      !isByteCount(e.object.size) ||
      typeof e.transferredAt !== 'string'
    ) {
      throw new Error(`files[${i}]: needs object.key, object.sha256, object.size (a whole number of bytes) and transferredAt`);
    }
    return e as ManifestEntry;
  });
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
