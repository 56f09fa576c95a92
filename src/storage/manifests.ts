import { text } from 'node:stream/consumers';
import type { StoredFileRecord } from '../provenance/store';
import type { ObjectStore } from './objectStore';

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
    object: { key: record.objectKey, size: record.size, sha256: record.sha256, contentType: record.contentType, etag: record.etag, versionId: record.versionId },
    transferredAt: record.finishedAt.toISOString(),
  };
}

export interface ManifestIndex {
  /** The newest entry per object key (a retried transfer can appear in two manifests). */
  entries: Map<string, ManifestEntry & { manifestKey: string }>;
  /** Manifests that could not be read as one: key and reason. */
  unreadable: Array<{ key: string; reason: string }>;
}

/** Reads every manifest under `prefix` (see manifestsPrefix in keys.ts) into an index by object key. */
export async function readManifests(store: ObjectStore, prefix: string): Promise<ManifestIndex> {
  const index: ManifestIndex = { entries: new Map(), unreadable: [] };
  for await (const key of store.listKeys(prefix)) {
    let files: ManifestEntry[];
    try {
      files = manifestFiles(JSON.parse(await text(await store.readStream(key))));
    } catch (err) {
      index.unreadable.push({ key, reason: err instanceof Error ? err.message : String(err) });
      continue;
    }
    for (const entry of files) {
      const seen = index.entries.get(entry.object.key);
      if (!seen || seen.transferredAt <= entry.transferredAt) index.entries.set(entry.object.key, { ...entry, manifestKey: key });
    }
  }
  return index;
}

function manifestFiles(value: unknown): ManifestEntry[] {
  const files = (value as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) throw new Error('no "files" array');
  return files.map((f: unknown, i) => {
    const e = f as Partial<ManifestEntry> | null;
    if (typeof e?.object?.key !== 'string' || typeof e.object.sha256 !== 'string' || typeof e.object.size !== 'number' || typeof e.transferredAt !== 'string') {
      throw new Error(`files[${i}]: needs object.key, object.sha256, object.size and transferredAt`);
    }
    return e as ManifestEntry;
  });
}
