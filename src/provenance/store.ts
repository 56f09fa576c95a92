import { Pool, type PoolClient, type QueryResult } from 'pg';
import type { SourceItem } from '../contracts/sourceItem';
import type { ExportCounters } from '../contracts/exportResult';
import { FINAL_FAILURE_CODES, GIVE_UP_CODES, type FailureCode } from '../contracts/failures';
import type { Window } from '../contracts/window';
import { ComplianceRecords } from './compliance';
import { migrate } from './migrate';

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
  /** 'erased': `callvault erase` deleted it; no export fetches it again. */
  status: 'stored' | 'failed' | 'erased';
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
  window: Window;
  trigger: { kind: string; by?: string };
}

export type { ExportCounters };

/** An export's row as the retention sweep reads it. */
export interface ExportWindowRow {
  workflowId: string;
  from: Date;
  to: Date;
  status: 'running' | 'completed' | 'failed';
  error: string | null;
  /** When its latest run began: it covers nothing created after. */
  startedAt: Date;
}

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
const GIVE_UP = sqlList(GIVE_UP_CODES);

/**
 * An upsert of `rows` files. On a clash of source identity, a stored or erased row is final (an
 * erased file is never written again, by any export or repair); a failed one may
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
  WHERE callvault.files.status NOT IN ('stored', 'erased')
    AND NOT (EXCLUDED.status = 'failed' AND EXCLUDED.failure_code IN (${GIVE_UP})
             AND callvault.files.failure_code IN (${FINAL_CODES}) AND callvault.files.export_run IS NOT DISTINCT FROM EXCLUDED.export_run)`;
}

/** The columns every row has, stored or failed: where it came from and who wrote it. */
function sourceColumns(rec: {
  provider: string;
  connection: string;
  item: SourceItem;
  execution: Execution;
  startedAt: Date;
  finishedAt: Date;
}) {
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
  /** Legal holds and erasure tombstones (src/provenance/compliance.ts). */
  readonly compliance: ComplianceRecords;

  constructor(readonly pool: Pool) {
    this.compliance = new ComplianceRecords(pool);
  }

  /** `warn` hears of lost connections (the worker's log); default stderr. */
  static connect(url: string, max = 10, options: { warn?: (message: string) => void } = {}): ProvenanceStore {
    const pool = new Pool({
      connectionString: url,
      max,
      application_name: 'callvault',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
    });
    // A Postgres restart drops idle clients, and pg reports that as an 'error' on the pool: without
    // a listener it ends the process (both workers used to exit 0.1 s after Postgres stopped).
    // The next query opens a new connection; activities in flight fail and are retried.
    const warn = options.warn ?? ((message: string) => console.warn(message));
    pool.on('error', (err) => lostConnectionNotice(err, warn));
    return new ProvenanceStore(pool);
  }

  /** What provenance holds about each of `sourceIds` (absent: nothing yet). */
  async fileStates(connection: string, sourceIds: readonly string[]): Promise<Map<string, FileState>> {
    if (sourceIds.length === 0) return new Map();
    const asWritten = new Map(sourceIds.map((id) => [pgText(id), id]));
    const res = await this.pool.query<{
      source_id: string;
      status: FileState['status'];
      workflow_id: string;
      export_run: string | null;
      size_bytes: string | null;
      failure_code: FailureCode | null;
      failure_reason: string | null;
    }>(
      `SELECT source_id, status, workflow_id, export_run, size_bytes, failure_code, failure_reason FROM callvault.files
        WHERE connection = $1 AND source_id = ANY($2::text[])`,
      [connection, [...asWritten.keys()]],
    );
    return new Map(
      res.rows.map((r) => [
        asWritten.get(r.source_id) ?? r.source_id,
        {
          status: r.status,
          workflowId: r.workflow_id,
          exportRun: r.export_run,
          size: r.size_bytes === null ? null : Number(r.size_bytes),
          failureCode: r.failure_code,
          failureReason: r.failure_reason,
        },
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
      const res = await this.pool.query(
        upsertFiles(chunk.length),
        chunk.flatMap((row) => FILE_COLUMNS.map((c) => row[c])),
      );
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

  /** The exports of a connection whose windows overlap [start, end): what the retention sweep builds its plan on. */
  async exportsOverlapping(connection: string, start: Date, end: Date): Promise<ExportWindowRow[]> {
    const res = await this.pool.query<{
      workflow_id: string;
      window_from: Date;
      window_to: Date;
      status: ExportWindowRow['status'];
      error: string | null;
      started_at: Date;
    }>(
      `SELECT workflow_id, window_from, window_to, status, error, started_at FROM callvault.exports
        WHERE connection = $1 AND window_from < $3 AND window_to > $2`,
      [connection, start, end],
    );
    return res.rows.map((r) => ({
      workflowId: r.workflow_id,
      from: r.window_from,
      to: r.window_to,
      status: r.status,
      error: r.error,
      startedAt: r.started_at,
    }));
  }

  async beginExport(start: ExportStart): Promise<void> {
    await this.pool.query(
      `INSERT INTO callvault.exports (workflow_id, first_run_id, connection, provider, window_from, window_to, trigger_kind, triggered_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (workflow_id) DO UPDATE SET status = 'running', error = NULL, finished_at = NULL, started_at = now(),
         first_run_id = EXCLUDED.first_run_id, trigger_kind = EXCLUDED.trigger_kind, triggered_by = EXCLUDED.triggered_by`,
      [
        start.workflowId,
        start.runId,
        start.connection,
        start.provider,
        start.window.from,
        start.window.to,
        start.trigger.kind,
        start.trigger.by ?? null,
      ],
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

  /** Applies the schema migrations this database has not seen; returns the ids applied. */
  async migrate(): Promise<number[]> {
    return migrate(this.pool);
  }

  /**
   * One export's files by status and failure code: how many, and their bytes. Every run of a window
   * has the same workflow id, so these are the window's totals across its runs (`callvault export status`).
   */
  async exportFileSummary(workflowId: string): Promise<ExportFileSummary[]> {
    return (await this.exportFileSummaries([workflowId])).get(workflowId) ?? [];
  }

  /** exportFileSummary for several exports in one query (`callvault export list`). */
  async exportFileSummaries(workflowIds: readonly string[]): Promise<Map<string, ExportFileSummary[]>> {
    const res = await this.pool.query<{
      workflow_id: string;
      status: string;
      failure_code: string | null;
      n: string;
      bytes: string | null;
    }>(
      `SELECT workflow_id, status, failure_code, count(*) AS n, sum(size_bytes) AS bytes FROM callvault.files
        WHERE workflow_id = ANY($1::text[]) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      [workflowIds],
    );
    const out = new Map<string, ExportFileSummary[]>();
    for (const r of res.rows) {
      const list = out.get(r.workflow_id) ?? [];
      list.push({ status: r.status, failureCode: r.failure_code, files: Number(r.n), bytes: Number(r.bytes ?? 0) });
      out.set(r.workflow_id, list);
    }
    return out;
  }

  /** An export's row in callvault.exports, or null. */
  async exportRow(workflowId: string): Promise<ExportRecord | null> {
    const res = await this.pool.query<ExportRecordRow>(`SELECT ${EXPORT_RECORD_COLUMNS} FROM callvault.exports WHERE workflow_id = $1`, [
      workflowId,
    ]);
    return res.rows[0] ? exportRecord(res.rows[0]) : null;
  }

  /**
   * Exports by connection, status and window (overlapping `[from, to)`), latest windows first, at
   * most `limit`. `cancelled` are the failed ones whose error says so.
   */
  async listExports(filter: ExportFilter): Promise<ExportRecord[]> {
    const res = await this.pool.query<ExportRecordRow>(
      `SELECT ${EXPORT_RECORD_COLUMNS} FROM callvault.exports
        WHERE ($1::text IS NULL OR connection = $1)
          AND ($2::text IS NULL OR status = $2)
          AND ($3::boolean IS NULL OR (status = 'failed' AND coalesce(error = 'cancelled', false)) = $3)
          AND ($4::timestamptz IS NULL OR window_from < $5 AND window_to > $4)
        ORDER BY window_from DESC NULLS LAST, workflow_id LIMIT $6`,
      [
        filter.connection ?? null,
        filter.status ?? null,
        filter.cancelled ?? null,
        filter.window?.from ?? null,
        filter.window?.to ?? null,
        filter.limit,
      ],
    );
    return res.rows.map(exportRecord);
  }

  /**
   * A page of failed files of these exports at a time, in the order they were first written
   * (keyset on the row id): memory holds one page whatever the number of failures.
   */
  async *failedFilePages(workflowIds: readonly string[], pageSize = 500): AsyncGenerator<FailedFileRow[]> {
    let after = 0;
    for (;;) {
      const res: QueryResult<{
        id: string;
        workflow_id: string;
        source_id: string;
        source_kind: string;
        conversation_id: string;
        original_name: string | null;
        failure_code: string | null;
        failure_reason: string | null;
        finished_at: Date;
      }> = await this.pool.query(
        `SELECT id, workflow_id, source_id, source_kind, conversation_id, original_name, failure_code, failure_reason, finished_at FROM callvault.files
            WHERE workflow_id = ANY($1::text[]) AND status = 'failed' AND id > $2 ORDER BY id LIMIT $3`,
        [workflowIds, after, pageSize],
      );
      if (res.rows.length > 0) {
        yield res.rows.map((r) => ({
          workflowId: r.workflow_id,
          sourceId: r.source_id,
          kind: r.source_kind,
          conversationId: r.conversation_id,
          originalName: r.original_name,
          failureCode: r.failure_code,
          failureReason: r.failure_reason,
          finishedAt: r.finished_at,
        }));
      }
      if (res.rows.length < pageSize) return;
      after = Number(res.rows[res.rows.length - 1]!.id);
    }
  }

  /**
   * A connection's stored rows (or one export's), a page at a time in source id order. Keyset
   * pagination on the (connection, source_id) index: memory holds one page, and each page costs
   * one index range scan however many rows there are.
   */
  async *storedRowPages(filter: { connection: string; workflowId?: string }, pageSize = 500): AsyncGenerator<StoredObjectRow[]> {
    let after: string | null = null;
    for (;;) {
      const res: QueryResult<{
        source_id: string;
        bucket: string;
        object_key: string;
        size_bytes: string;
        sha256: string;
        etag: string | null;
      }> = await this.pool.query(
        `SELECT source_id, bucket, object_key, size_bytes, sha256, etag FROM callvault.files
          WHERE connection = $1 AND ($2::text IS NULL OR source_id > $2) AND status = 'stored' AND ($3::text IS NULL OR workflow_id = $3)
          ORDER BY source_id LIMIT $4`,
        [filter.connection, after, filter.workflowId ?? null, pageSize],
      );
      if (res.rows.length > 0) {
        yield res.rows.map((r) => ({
          sourceId: r.source_id,
          bucket: r.bucket,
          objectKey: r.object_key,
          size: Number(r.size_bytes),
          sha256: r.sha256,
          etag: r.etag,
        }));
      }
      if (res.rows.length < pageSize) return;
      after = res.rows[res.rows.length - 1]!.source_id;
    }
  }

  /** The largest stored object of a bucket (the bench reads it back to check it). */
  async largestStored(bucket: string): Promise<Pick<StoredObjectRow, 'objectKey' | 'sha256' | 'size'> | null> {
    const res = await this.pool.query<{ object_key: string; sha256: string; size_bytes: string }>(
      `SELECT object_key, sha256, size_bytes FROM callvault.files WHERE bucket = $1 AND status = 'stored' ORDER BY size_bytes DESC, object_key LIMIT 1`,
      [bucket],
    );
    const r = res.rows[0];
    return r ? { objectKey: r.object_key, sha256: r.sha256, size: Number(r.size_bytes) } : null;
  }

  /** Which of `keys` a stored row in `bucket` names. */
  async storedKeys(bucket: string, keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const res = await this.pool.query<{ object_key: string }>(
      `SELECT object_key FROM callvault.files WHERE bucket = $1 AND object_key = ANY($2::text[]) AND status = 'stored'`,
      [bucket, keys],
    );
    return new Set(res.rows.map((r) => r.object_key));
  }

  /** The rows (stored or failed) of `sourceIds` in a connection, keyed by the caller's ids. */
  async sourceRows(connection: string, sourceIds: readonly string[]): Promise<Map<string, SourceRow>> {
    if (sourceIds.length === 0) return new Map();
    const asWritten = new Map(sourceIds.map((id) => [pgText(id), id]));
    const res = await this.pool.query<{
      source_id: string;
      status: SourceRow['status'];
      failure_code: string | null;
      object_key: string | null;
      workflow_id: string;
    }>(
      `SELECT source_id, status, failure_code, object_key, workflow_id FROM callvault.files WHERE connection = $1 AND source_id = ANY($2::text[])`,
      [connection, [...asWritten.keys()]],
    );
    return new Map(
      res.rows.map((r) => [
        asWritten.get(r.source_id) ?? r.source_id,
        { status: r.status, failureCode: r.failure_code, objectKey: r.object_key, workflowId: r.workflow_id },
      ]),
    );
  }

  /** The connection (and provider, when known) of an export, or null when provenance has no trace of it. */
  async exportConnection(workflowId: string): Promise<{ connection: string; provider: string | null } | null> {
    const res = await this.pool.query<{ connection: string; provider: string | null }>(
      `SELECT connection, provider FROM callvault.exports WHERE workflow_id = $1
       UNION ALL (SELECT connection, provider FROM callvault.files WHERE workflow_id = $1 LIMIT 1)
       LIMIT 1`,
      [workflowId],
    );
    return res.rows[0] ?? null;
  }

  /** The provider of a connection as its file rows name it, or null when it has none. */
  async connectionProvider(connection: string): Promise<string | null> {
    const res = await this.pool.query<{ provider: string }>(`SELECT provider FROM callvault.files WHERE connection = $1 LIMIT 1`, [
      connection,
    ]);
    return res.rows[0]?.provider ?? null;
  }

  /**
   * Records a stored object that was found without a row (verify --repair), by the same rule as
   * recordStored: a stored row is final, a failed one is replaced. `exportRun` is the export's
   * first run id where its manifest names one. Returns whether the row was written.
   */
  async adoptStored(record: StoredFileRecord, exportRun: string | null): Promise<boolean> {
    return (await this.recordStored([{ ...record, execution: { ...record.execution, exportRun: exportRun ?? undefined } }])) > 0;
  }

  /**
   * A scratch index of manifest entries in a temporary table (see ManifestIndexTable). It holds one
   * pooled client until closed, so the pool needs at least one more for the other queries. Close it.
   */
  async openManifestIndex(): Promise<ManifestIndexTable> {
    return ManifestIndexTable.open(await this.pool.connect());
  }
}

/** An export as its row in callvault.exports has it: the latest run's counters, the window, the trigger. */
export interface ExportRecord {
  workflowId: string;
  connection: string;
  provider: string | null;
  from: Date | null;
  to: Date | null;
  triggerKind: string;
  triggeredBy: string | null;
  status: 'running' | 'completed' | 'failed';
  counters: ExportCounters;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface ExportFilter {
  connection?: string;
  status?: ExportRecord['status'];
  /** Only failed exports whose error is 'cancelled' (true), or none of them (false). */
  cancelled?: boolean;
  window?: { from: Date; to: Date };
  limit: number;
}

/** A failed file as `callvault export failures` lists it. */
export interface FailedFileRow {
  workflowId: string;
  sourceId: string;
  kind: string;
  conversationId: string;
  originalName: string | null;
  failureCode: string | null;
  failureReason: string | null;
  finishedAt: Date;
}

const EXPORT_RECORD_COLUMNS =
  'workflow_id, connection, provider, window_from, window_to, trigger_kind, triggered_by, status, listed, transferred, skipped, failed, bytes, error, started_at, finished_at';

interface ExportRecordRow {
  workflow_id: string;
  connection: string;
  provider: string | null;
  window_from: Date | null;
  window_to: Date | null;
  trigger_kind: string;
  triggered_by: string | null;
  status: ExportRecord['status'];
  listed: string;
  transferred: string;
  skipped: string;
  failed: string;
  bytes: string;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

function exportRecord(r: ExportRecordRow): ExportRecord {
  return {
    workflowId: r.workflow_id,
    connection: r.connection,
    provider: r.provider,
    from: r.window_from,
    to: r.window_to,
    triggerKind: r.trigger_kind,
    triggeredBy: r.triggered_by,
    status: r.status,
    counters: {
      listed: Number(r.listed),
      transferred: Number(r.transferred),
      skipped: Number(r.skipped),
      failed: Number(r.failed),
      bytes: Number(r.bytes),
    },
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** A group of one export's files in `callvault export status`. */
export interface ExportFileSummary {
  status: string;
  failureCode: string | null;
  files: number;
  bytes: number;
}

/** A stored row as verify checks it against its object. */
export interface StoredObjectRow {
  sourceId: string;
  bucket: string;
  objectKey: string;
  size: number;
  sha256: string;
  /** The ETag the store gave the object when it was written (bare); null in rows that have none. */
  etag?: string | null;
}

/** What provenance says about one source file. */
export interface SourceRow {
  status: 'stored' | 'failed' | 'erased';
  failureCode: string | null;
  objectKey: string | null;
  workflowId: string;
}

/** What verify needs of a manifest entry to check a row or an object against it. */
export interface ManifestEntryRow {
  objectKey: string;
  size: number;
  sha256: string;
  sourceId: string | null;
  /** The export that wrote the manifest, when its header says. */
  workflowId: string | null;
  manifestKey: string;
  transferredAt: string;
}

/**
 * Manifest entries indexed by object key in a temporary table of one pooled session, so that
 * verify's memory does not grow with the number of files a connection holds: the table lives on
 * the database server and goes with the session. Holds its pooled client until closed.
 */
export class ManifestIndexTable {
  private constructor(private readonly client: PoolClient) {}

  static async open(client: PoolClient): Promise<ManifestIndexTable> {
    try {
      await client.query(`DROP TABLE IF EXISTS pg_temp.verify_manifest_entries`);
      await client.query(
        `CREATE TEMP TABLE verify_manifest_entries (
           object_key text PRIMARY KEY, size bigint NOT NULL, sha256 text NOT NULL, source_id text, workflow_id text,
           manifest_key text NOT NULL, transferred_at text NOT NULL)`,
      );
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    return new ManifestIndexTable(client);
  }

  /** Adds entries whose object keys are unique within the call; an older entry never replaces a newer one. */
  async add(entries: readonly ManifestEntryRow[]): Promise<void> {
    if (entries.length === 0) return;
    const column = <T>(f: (e: ManifestEntryRow) => T) => entries.map(f);
    await this.client.query(
      `INSERT INTO pg_temp.verify_manifest_entries AS m
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
       ON CONFLICT (object_key) DO UPDATE SET (size, sha256, source_id, workflow_id, manifest_key, transferred_at) =
         (EXCLUDED.size, EXCLUDED.sha256, EXCLUDED.source_id, EXCLUDED.workflow_id, EXCLUDED.manifest_key, EXCLUDED.transferred_at)
       WHERE m.transferred_at <= EXCLUDED.transferred_at`,
      [
        column((e) => pgText(e.objectKey)),
        column((e) => e.size),
        column((e) => pgText(e.sha256)),
        column((e) => pgText(e.sourceId)),
        column((e) => pgText(e.workflowId)),
        column((e) => pgText(e.manifestKey)),
        column((e) => pgText(e.transferredAt)),
      ],
    );
  }

  /** The entries of `keys` that any manifest has. */
  async lookup(keys: readonly string[]): Promise<Map<string, ManifestEntryRow>> {
    if (keys.length === 0) return new Map();
    const res = await this.client.query<{
      object_key: string;
      size: string;
      sha256: string;
      source_id: string | null;
      workflow_id: string | null;
      manifest_key: string;
      transferred_at: string;
    }>(`SELECT * FROM pg_temp.verify_manifest_entries WHERE object_key = ANY($1::text[])`, [keys]);
    return new Map(
      res.rows.map((r) => [
        r.object_key,
        {
          objectKey: r.object_key,
          size: Number(r.size),
          sha256: r.sha256,
          sourceId: r.source_id,
          workflowId: r.workflow_id,
          manifestKey: r.manifest_key,
          transferredAt: r.transferred_at,
        },
      ]),
    );
  }

  async close(): Promise<void> {
    try {
      await this.client.query(`DROP TABLE IF EXISTS pg_temp.verify_manifest_entries`);
      this.client.release();
    } catch (err) {
      this.client.release(err as Error);
    }
  }
}

const CONNECT_TIMEOUT_MS = 10_000;
const NOTICE_EVERY_MS = 30_000;
let lastNoticeAt = 0;

/** One line per outage, not one per pooled client. */
function lostConnectionNotice(err: Error, warn: (message: string) => void): void {
  const now = Date.now();
  if (now - lastNoticeAt < NOTICE_EVERY_MS) return;
  lastNoticeAt = now;
  warn(
    `callvault: lost a Postgres connection (${err.message}); the next query reconnects, and activities that failed meanwhile are retried`,
  );
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
