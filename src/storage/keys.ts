import { createHash } from 'node:crypto';

const MAX_SEGMENT = 120;

/**
 * Makes one path segment of an object key safe: only [A-Za-z0-9._-], no leading dot (so never
 * `.` or `..`), bounded length. When anything had to change, a short hash of the original is
 * appended so two different hostile names can never collapse onto the same key.
 */
export function sanitizeSegment(value: string, maxLength = MAX_SEGMENT): string {
  const cleaned = value
    .normalize('NFKC')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '')
    .replace(/\.{2,}/g, '.');
  if (cleaned === value && cleaned.length > 0 && cleaned.length <= maxLength) return cleaned;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 10);
  const room = maxLength - hash.length - 1;
  const head = cleaned.slice(0, room).replace(/[._-]+$/, '');
  return head ? `${head}-${hash}` : hash;
}

/** `yyyy/mm/dd` in UTC, or `undated` when the source gave no usable time. */
export function datePath(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return 'undated';
  const yyyy = String(date.getUTCFullYear()).padStart(4, '0');
  const mm = String(date.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(date.getUTCDate()).padStart(2, '0');
  return `${yyyy}/${mm}/${dd}`;
}

export interface KeyParts {
  prefix: string;
  provider: string;
  connection: string;
  createdAt: string;
  conversationId: string;
  sourceId: string;
  /** A human name to keep readable in the key (attachments); sanitized like the rest. */
  originalName?: string;
  extension: string;
}

/**
 * `{prefix}/{provider}/{connection}/{yyyy}/{mm}/{dd}/{conversationId}/{sourceId}{ext}`: derived from
 * the source identity only (never time of transfer or attempt), so a rerun lands on the same key.
 */
export function objectKey(parts: KeyParts): string {
  const ext = sanitizeExtension(parts.extension);
  let stem = sanitizeSegment(parts.sourceId, 80);
  if (parts.originalName) {
    const base = parts.originalName.replace(/\.[A-Za-z0-9]{1,8}$/, '');
    stem = `${stem}-${sanitizeSegment(base, 100)}`;
  }
  return [...connectionFolder(parts), datePath(parts.createdAt), sanitizeSegment(parts.conversationId), `${stem}${ext}`].join('/');
}

/** `{prefix}/{provider}/{connection}` as segments: where everything of one connection lives. */
function connectionFolder(parts: { prefix: string; provider: string; connection: string }): string[] {
  const prefix = parts.prefix
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => sanitizeSegment(s));
  return [...prefix, sanitizeSegment(parts.provider), sanitizeSegment(parts.connection)];
}

export function sanitizeExtension(extension: string): string {
  const clean = extension
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 8);
  return clean ? `.${clean}` : '';
}

export interface ManifestKeyParts {
  prefix: string;
  provider: string;
  connection: string;
  /** When the manifest is written (ISO-8601): chooses its date folders. */
  writtenAt: string;
  workflowId: string;
  runId: string;
  activityId: string;
  attempt: number;
  /** The manifest's number within this activity attempt. */
  seq: number;
}

/**
 * `{prefix}/{provider}/{connection}/_manifests/{yyyy}/{mm}/{dd}/{workflowId}/{runId}-{activityId}-{attempt}-{seq}.json`:
 * the provenance of a group of stored objects, beside them in the bucket, so a copied bucket still
 * explains itself. `_manifests` cannot clash with an object's folders: those are dates or `undated`,
 * and a sanitized segment never starts with `_`. Named after the activity attempt that wrote it, so
 * retries add manifests and never overwrite one.
 */
export function manifestKey(parts: ManifestKeyParts): string {
  const name = sanitizeSegment(`${parts.runId}-${parts.activityId}-${parts.attempt}-${parts.seq}`);
  return `${manifestFolder(parts)}${name}.json`;
}

/** `{prefix}/{provider}/{connection}/_manifests/{yyyy}/{mm}/{dd}/{workflowId}/`: one export's manifests written that day. */
export function manifestFolder(parts: Pick<ManifestKeyParts, 'prefix' | 'provider' | 'connection' | 'writtenAt' | 'workflowId'>): string {
  return `${manifestsPrefix(parts)}${datePath(parts.writtenAt)}/${sanitizeSegment(parts.workflowId)}/`;
}

const MANIFESTS_FOLDER = '_manifests';

/** `{prefix}/{provider}/{connection}/`: list this prefix for every object of a connection, manifests included. */
export function connectionPrefix(parts: { prefix: string; provider: string; connection: string }): string {
  return `${connectionFolder(parts).join('/')}/`;
}

/** Where a connection's manifests are: list this prefix to read them all. */
export function manifestsPrefix(parts: { prefix: string; provider: string; connection: string }): string {
  return `${[...connectionFolder(parts), MANIFESTS_FOLDER].join('/')}/`;
}
