import { Pool } from 'pg';
import type { SourceItem } from '../providers/types';
import type { ExportCounters } from '../../workflows/contracts';

/** Which export, run and attempt wrote a row: the audit trail back into Temporal. */
export interface Execution {
  workflowId: string;
  runId: string;
  attempt: number;
  /**
   * The first run id of the export (the same across continue-as-new): rows it wrote are "this
   * export's", which a rerun of the same window (same workflow id, new first run) tells apart.
   */
  exportRun?: string;
}

export interface StoredFileRecord {
  provider: string;
  connection: string;
  item: SourceItem;
  sourceUrl: string;
  bucket: string;
  objectKey: string;
  versionId: string | null;
  etag: string;
  size: number;
  sha256: string;
  contentType: string;
  execution: Execution;
  startedAt: Date;
  finishedAt: Date;
}

/** Why a file could not be exported: the platform's final word (FINAL_FAILURE_CODES), or callvault giving up. */
export type FailureCode = 'not_found' | 'provider_final_status' | 'refused_link' | 'malformed' | 'gave_up' | 'not_ready_timeout';
export const FINAL_FAILURE_CODES: readonly FailureCode[] = ['not_found', 'provider_final_status', 'refused_link', 'malformed'];

export interface FailedFileRecord {
  provider: string;
  connection: string;
  item: SourceItem;
  code: FailureCode;
  reason: string;
  execution: Execution;
  startedAt: Date;
  finishedAt: Date;
}

/** What provenance holds about one source file. */
export interface FileState {
  status: 'stored' | 'failed';
  workflowId: string;
  exportRun: string | null;
  size: number | null;
  failureCode: FailureCode | null;
  failureReason: string | null;
}

export interface ExportStart {
  workflowId: string;
  runId: string;
  connection: string;
  provider: string;
  window: { from: string; to: string };
  trigger: { kind: string; by?: string };
}

export type { ExportCounters };

const FILE_COLUMNS = [
  'provider',
  'connection',
  'source_id',
  'source_kind',
  'conversation_id',
  'message_id',
  'original_name',
  'source_created_at',
  'source_url',
  'status',
  'failure_code',
  'failure_reason',
  'bucket',
  'object_key',
  'version_id',
  'etag',
  'size_bytes',
  'sha256',
  'content_type',
  'workflow_id',
  'run_id',
  'attempt',
  'started_at',
  'finished_at',
  'export_run',
] as const;
type FileRow = Record<(typeof FILE_COLUMNS)[number], string | number | Date | null>;
/** Postgres takes at most 65,535 parameters per statement. */
const ROWS_PER_STATEMENT = Math.floor(65_535 / FILE_COLUMNS.length);

const sqlList = (codes: readonly string[]) => codes.map((c) => `'${c}'`).join(', ');
const FINAL_CODES = sqlList(FINAL_FAILURE_CODES);
const GIVE_UP_CODES = sqlList(['gave_up', 'not_ready_timeout']);

/**
 * An upsert of `rows` files. On a clash of source identity, a stored row is final; a failed one may
 * be replaced by a later success, or a later failure, except that giving up never overwrites the
 * platform's final word that the same export recorded (a file Bird says `failed` stays so).
 */
function upsertFiles(rows: number): string {
  const n = FILE_COLUMNS.length;
  const values = Array.from({ length: rows }, (_, r) => `(${FILE_COLUMNS.map((_, c) => `$${r * n + c + 1}`).join(', ')})`);
  return `INSERT INTO callvault.files (${FILE_COLUMNS.join(', ')})
  VALUES ${values.join(',\n    ')}
  ON CONFLICT (connection, source_id) DO UPDATE SET
  (${FILE_COLUMNS.join(', ')}) = (${FILE_COLUMNS.map((c) => `EXCLUDED.${c}`).join(', ')})
  WHERE callvault.files.status <> 'stored'
    AND NOT (EXCLUDED.status = 'failed' AND EXCLUDED.failure_code IN (${GIVE_UP_CODES})
             AND callvault.files.failure_code IN (${FINAL_CODES}) AND callvault.files.export_run IS NOT DISTINCT FROM EXCLUDED.export_run)`;
}

/** The columns every row has, stored or failed: where it came from and who wrote it. */
function sourceColumns(rec: { provider: string; connection: string; item: SourceItem; execution: Execution; startedAt: Date; finishedAt: Date }) {
  return {
    provider: rec.provider,
    connection: rec.connection,
    source_id: pgText(rec.item.sourceId),
    source_kind: rec.item.kind,
    conversation_id: pgText(rec.item.conversationId),
    message_id: pgText(rec.item.messageId ?? null),
    original_name: pgText(rec.item.originalName ?? null),
    source_created_at: validDate(rec.item.createdAt),
    workflow_id: rec.execution.workflowId,
    run_id: rec.execution.runId,
    attempt: rec.execution.attempt,
    started_at: rec.startedAt,
    finished_at: rec.finishedAt,
    export_run: rec.execution.exportRun ?? null,
  };
}

/**
 * Provenance in Postgres: one row per source file (stored or failed, unique per connection and
 * source id), one row per export. Every write is idempotent, so activity retries are harmless.
 */
export class ProvenanceStore {
  constructor(readonly pool: Pool) {}

  static connect(url: string, max = 10): ProvenanceStore {
    const pool = new Pool({ connectionString: url, max, application_name: 'callvault', connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
    // A Postgres restart drops idle clients, and pg reports that as an 'error' on the pool: without
    // a listener it ends the process (both workers used to exit 0.1 s after Postgres stopped).
    // The next query opens a new connection; activities in flight fail and are retried.
    pool.on('error', (err) => lostConnectionNotice(err));
    return new ProvenanceStore(pool);
  }

  /** What provenance holds about each of `sourceIds` (absent: nothing yet). */
  async fileStates(connection: string, sourceIds: readonly string[]): Promise<Map<string, FileState>> {
    if (sourceIds.length === 0) return new Map();
    const asWritten = new Map(sourceIds.map((id) => [pgText(id), id]));
    const res = await this.pool.query<{ source_id: string; status: FileState['status']; workflow_id: string; export_run: string | null; size_bytes: string | null; failure_code: FailureCode | null; failure_reason: string | null }>(
      `SELECT source_id, status, workflow_id, export_run, size_bytes, failure_code, failure_reason FROM callvault.files
        WHERE connection = $1 AND source_id = ANY($2::text[])`,
      [connection, [...asWritten.keys()]],
    );
    return new Map(
      res.rows.map((r) => [
        asWritten.get(r.source_id) ?? r.source_id,
        { status: r.status, workflowId: r.workflow_id, exportRun: r.export_run, size: r.size_bytes === null ? null : Number(r.size_bytes), failureCode: r.failure_code, failureReason: r.failure_reason },
      ]),
    );
  }

  /**
   * Records stored files, in one statement: a batch of small files costs Postgres one round trip
   * instead of one each. Returns how many rows were written; a file another writer had already
   * stored keeps its row.
   */
  async recordStored(recs: readonly StoredFileRecord[]): Promise<number> {
    return this.upsertFiles(
      recs.map((rec) => ({
        ...sourceColumns(rec),
        source_url: rec.sourceUrl,
        status: 'stored',
        failure_code: null,
        failure_reason: null,
        bucket: rec.bucket,
        object_key: rec.objectKey,
        version_id: rec.versionId,
        etag: rec.etag,
        size_bytes: rec.size,
        sha256: rec.sha256,
        content_type: rec.contentType,
      })),
    );
  }

  /** Records that a file could not be exported, and why. Never overwrites a stored row. */
  async recordFailed(rec: FailedFileRecord): Promise<boolean> {
    const written = await this.upsertFiles([
      {
        ...sourceColumns(rec),
        source_url: null,
        status: 'failed',
        failure_code: rec.code,
        failure_reason: pgText(rec.reason.slice(0, 2000)),
        bucket: null,
        object_key: null,
        version_id: null,
        etag: null,
        size_bytes: null,
        sha256: null,
        content_type: null,
      },
    ]);
    return written > 0;
  }

  private async upsertFiles(rows: readonly FileRow[]): Promise<number> {
    // Duplicates within one statement would make ON CONFLICT fail ("cannot affect row a second time").
    const unique = [...new Map(rows.map((row) => [`${String(row.connection)}\u0000${String(row.source_id)}`, row])).values()];
    let written = 0;
    for (let i = 0; i < unique.length; i += ROWS_PER_STATEMENT) {
      const chunk = unique.slice(i, i + ROWS_PER_STATEMENT);
      const res = await this.pool.query(upsertFiles(chunk.length), chunk.flatMap((row) => FILE_COLUMNS.map((c) => row[c])));
      written += res.rowCount ?? 0;
    }
    return written;
  }

  /** How many files earlier listings counted in each of these conversations (see migration 3). */
  async listingCounts(connection: string, conversationIds: readonly string[]): Promise<Map<string, number>> {
    if (conversationIds.length === 0) return new Map();
    const res = await this.pool.query<{ conversation_id: string; files: number }>(
      'SELECT conversation_id, files FROM callvault.listing_counts WHERE connection = $1 AND conversation_id = ANY($2::text[])',
      [connection, conversationIds.map((id) => pgText(id))],
    );
    return new Map(res.rows.map((r) => [r.conversation_id, r.files]));
  }

  async rememberListingCount(connection: string, conversationId: string, files: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO callvault.listing_counts (connection, conversation_id, files) VALUES ($1, $2, $3)
       ON CONFLICT (connection, conversation_id) DO UPDATE SET files = EXCLUDED.files, counted_at = now()`,
      [connection, pgText(conversationId), files],
    );
  }

  async beginExport(start: ExportStart): Promise<void> {
    await this.pool.query(
      `INSERT INTO callvault.exports (workflow_id, first_run_id, connection, provider, window_from, window_to, trigger_kind, triggered_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (workflow_id) DO UPDATE SET status = 'running', error = NULL, finished_at = NULL,
         first_run_id = EXCLUDED.first_run_id, trigger_kind = EXCLUDED.trigger_kind, triggered_by = EXCLUDED.triggered_by`,
      [start.workflowId, start.runId, start.connection, start.provider, start.window.from, start.window.to, start.trigger.kind, start.trigger.by ?? null],
    );
  }

  /**
   * The row of an export that failed before it began, with what it was asked for as far as that
   * could be read. Never touches a completed export's row: a bad rerun does not unmake an export.
   */
  async recordFailedStart(start: { workflowId: string; runId: string; connection: string | null; error: string }): Promise<void> {
    await this.pool.query(
      `INSERT INTO callvault.exports (workflow_id, first_run_id, connection, trigger_kind, status, error, finished_at)
       VALUES ($1, $2, $3, 'unknown', 'failed', $4, now())
       ON CONFLICT (workflow_id) DO UPDATE SET status = 'failed', error = EXCLUDED.error, finished_at = now()
       WHERE callvault.exports.status <> 'completed'`,
      [pgText(start.workflowId), start.runId, pgText(start.connection ?? '(none)'), pgText(start.error.slice(0, 2000))],
    );
  }

  async finishExport(workflowId: string, outcome: 'completed' | 'failed', counters: ExportCounters, error?: string): Promise<void> {
    await this.pool.query(
      `UPDATE callvault.exports SET status = $2, listed = $3, transferred = $4, skipped = $5, failed = $6, bytes = $7,
         error = $8, finished_at = now() WHERE workflow_id = $1`,
      [workflowId, outcome, counters.listed, counters.transferred, counters.skipped, counters.failed, counters.bytes, error ?? null],
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

const CONNECT_TIMEOUT_MS = 10_000;
const NOTICE_EVERY_MS = 30_000;
let lastNoticeAt = 0;

/** One line per outage, not one per pooled client. */
function lostConnectionNotice(err: Error): void {
  const now = Date.now();
  if (now - lastNoticeAt < NOTICE_EVERY_MS) return;
  lastNoticeAt = now;
  console.warn(`callvault: lost a Postgres connection (${err.message}); the next query reconnects, and activities that failed meanwhile are retried`);
}

/**
 * Postgres text cannot hold U+0000, and a platform's file names may contain anything. Provenance
 * keeps the name with NULs shown as U+FFFD; the manifest JSON keeps it exactly.
 */
function pgText<T extends string | null | undefined>(value: T): T {
  return (typeof value === 'string' ? value.replace(/\u0000/g, '\uFFFD') : value) as T;
}

function validDate(iso: string): Date | null {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}
