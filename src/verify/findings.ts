import type { ManifestEntryRow, SourceRow, StoredFileRecord, StoredObjectRow } from '../provenance/store';
import type { ManifestEntry, ManifestHeader } from '../storage/manifests';
import type { HeadResult } from '../storage/objectStore';

/**
 * What verify decides, as pure functions of what it read: a stored row against its object and
 * manifest entry, and a data object that no stored row names (an orphan). The I/O is in verify.ts.
 */

export type ProblemKind = 'row' | 'orphan' | 'manifest';

export interface VerifyProblem {
  kind: ProblemKind;
  connection: string;
  /** The object's key, or the manifest's for a manifest that cannot be read. */
  key: string;
  /** The source file, when the row, manifest entry or object metadata names it. */
  sourceId: string | null;
  problem: string;
  orphan?: OrphanDetail;
}

/** What an orphan's manifest entry says about it. */
export type ManifestMatch = 'none' | 'size_matches' | 'size_differs';
/**
 * What provenance holds for the orphan's source: nothing, a failed row, a stored row naming another
 * key, or a tombstone (the file was erased, and this object of it is still there).
 */
export type SourceState = 'no_row' | 'failed_row' | 'stored_elsewhere' | 'erased';

export type NotAdoptedReason =
  | 'no manifest entry'
  | 'size differs'
  | 'hash differs'
  | 'source stored at another key'
  | 'source erased'
  | 'manifest entry incomplete'
  | 'a stored row was written meanwhile';

export interface OrphanDetail {
  size: number;
  manifest: ManifestMatch;
  manifestKey: string | null;
  manifestSize: number | null;
  source: SourceState;
  failureCode: string | null;
  /** Set when --repair looked at it and left it. */
  notAdopted?: NotAdoptedReason;
}

export interface Adoption {
  connection: string;
  key: string;
  sourceId: string;
  manifestKey: string;
  /** True when the row it wrote replaced a failed one. */
  replacedFailedRow: boolean;
}

/** Problems of a stored row; `content` is the object's SHA-256 as re-read, or null when not re-read. */
export function rowProblems(
  row: StoredObjectRow,
  bucket: string,
  head: HeadResult | null,
  entry: ManifestEntryRow | undefined,
  content: string | null,
): string[] {
  if (row.bucket !== bucket) return [`recorded in bucket ${row.bucket}, verifying ${bucket}`];
  if (!head) return ['object missing'];
  const problems: string[] = [];
  if (head.size !== row.size) problems.push(`size ${head.size}, provenance says ${row.size}`);
  // Only a file sent in one PutObject carries its SHA-256 in metadata; a multipart upload's is
  // known after its last byte, and writing it in then would take a copy (a second version).
  if (head.metadata.sha256 !== undefined && head.metadata.sha256 !== row.sha256)
    problems.push(`metadata sha256 ${head.metadata.sha256} differs from provenance`);
  // Without it, the ETag tells an object written again since (a store gives each write its own).
  if (row.etag && head.etag.replace(/"/g, '') !== row.etag)
    problems.push(`object rewritten: etag ${head.etag.replace(/"/g, '')}, provenance says ${row.etag}`);
  if (!entry) problems.push('in no manifest');
  else if (entry.sha256 !== row.sha256 || entry.size !== row.size) problems.push(`manifest ${entry.manifestKey} differs from provenance`);
  if (content !== null && content !== row.sha256) problems.push(`content sha256 ${content} differs from provenance ${row.sha256}`);
  return problems;
}

/** The keys of a listing page that are data objects: everything under the connection but its manifests. */
export function dataKeys(keys: readonly string[], manifestsPrefix: string): string[] {
  return keys.filter((k) => !k.startsWith(manifestsPrefix));
}

/** The keys no stored row names, in listing order. */
export function orphanKeys(keys: readonly string[], stored: ReadonlySet<string>): string[] {
  return keys.filter((k) => !stored.has(k));
}

/** The source an orphan belongs to: its manifest entry says, else the object's own metadata. */
export function orphanSourceId(entry: ManifestEntryRow | undefined, metadata: Record<string, string>): string | null {
  if (entry?.sourceId) return entry.sourceId;
  const raw = metadata['source-id'];
  if (raw === undefined) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export function describeOrphan(size: number, entry: ManifestEntryRow | undefined, row: SourceRow | undefined): OrphanDetail {
  // A stored row naming this very key would not have made it an orphan: it is another key (or bucket).
  const source: SourceState = !row
    ? 'no_row'
    : row.status === 'failed'
      ? 'failed_row'
      : row.status === 'erased'
        ? 'erased'
        : 'stored_elsewhere';
  return {
    size,
    manifest: !entry ? 'none' : entry.size === size ? 'size_matches' : 'size_differs',
    manifestKey: entry?.manifestKey ?? null,
    manifestSize: entry?.size ?? null,
    source,
    failureCode: row?.status === 'failed' ? row.failureCode : null,
  };
}

/** Whether verify --export <workflowId> answers for this orphan: its manifest or its source's row names that export. */
export function orphanInScope(workflowId: string | undefined, entry: ManifestEntryRow | undefined, row: SourceRow | undefined): boolean {
  return workflowId === undefined || entry?.workflowId === workflowId || row?.workflowId === workflowId;
}

/** Why an orphan cannot be adopted without reading it, or null when its content decides. */
export function adoptionBlocker(orphan: OrphanDetail): NotAdoptedReason | null {
  if (orphan.manifest === 'none') return 'no manifest entry';
  if (orphan.manifest === 'size_differs') return 'size differs';
  if (orphan.source === 'stored_elsewhere') return 'source stored at another key';
  // Adopting it would bring an erased file back: never.
  if (orphan.source === 'erased') return 'source erased';
  return null;
}

export function orphanText(orphan: OrphanDetail, otherKey?: string | null, fix?: string): string {
  if (orphan.source === 'erased')
    return `object of an erased file (a tombstone says it was deleted); erase it again: ${fix ?? 'callvault erase --source-id <id>'}`;
  const parts = [
    orphan.source === 'failed_row'
      ? `stored object behind a failed row (${orphan.failureCode ?? 'no code'})`
      : 'object without a stored row',
  ];
  if (orphan.source === 'stored_elsewhere') parts.push(`its source is stored at ${otherKey ?? 'another key'}`);
  if (orphan.manifest === 'none') parts.push('no manifest entry');
  else if (orphan.manifest === 'size_matches') parts.push(`manifest ${orphan.manifestKey} has it with the same size`);
  else parts.push(`manifest ${orphan.manifestKey} says ${orphan.manifestSize} bytes, the object has ${orphan.size}`);
  if (orphan.notAdopted) parts.push(`not adopted: ${orphan.notAdopted}`);
  return parts.join('; ');
}

/**
 * The stored row an adopted object gets, from its manifest entry and header: the same row the
 * transfer would have written, times and all, or why the manifest cannot give one.
 */
export function adoptionRecord(
  entry: ManifestEntry,
  header: ManifestHeader,
  where: { provider: string; connection: string; bucket: string },
): StoredFileRecord | 'manifest entry incomplete' {
  const s = entry.source as Partial<ManifestEntry['source']> | undefined;
  const o = entry.object;
  const kinds = ['recording', 'voicemail', 'attachment'];
  const text = (v: unknown): v is string => typeof v === 'string';
  if (!header.export || !s || !text(s.id) || !kinds.includes(s.kind ?? '') || !text(s.conversationId) || !text(s.createdAt) || !text(s.url))
    return 'manifest entry incomplete';
  const transferredAt = new Date(entry.transferredAt);
  if (Number.isNaN(transferredAt.getTime())) return 'manifest entry incomplete';
  return {
    provider: where.provider,
    connection: where.connection,
    item: {
      sourceId: s.id,
      kind: s.kind as StoredFileRecord['item']['kind'],
      conversationId: s.conversationId,
      ...(text(s.messageId) ? { messageId: s.messageId } : {}),
      ...(text(s.originalName) ? { originalName: s.originalName } : {}),
      createdAt: s.createdAt,
      locator: {},
    },
    sourceUrl: s.url,
    bucket: where.bucket,
    objectKey: o.key,
    versionId: typeof o.versionId === 'string' ? o.versionId : null,
    etag: typeof o.etag === 'string' ? o.etag : '',
    size: o.size,
    sha256: o.sha256,
    contentType: typeof o.contentType === 'string' ? o.contentType : 'application/octet-stream',
    execution: header.export,
    startedAt: transferredAt,
    finishedAt: transferredAt,
  };
}

/** The command that erases what is left of an erased file (it is refused again if held or locked). */
export function eraseAgainCommand(connection: string, sourceId: string | null): string {
  const id = sourceId === null ? '<source id>' : /^[A-Za-z0-9._:-]+$/.test(sourceId) ? sourceId : `'${sourceId.replace(/'/g, "'\\''")}'`;
  return `callvault erase --connection ${connection} --source-id ${id} --by <you> --reason <why>`;
}
