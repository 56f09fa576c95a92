import type { Pool, PoolClient } from 'pg';
import type { FileSelection } from '../contracts/erasure';

/**
 * Legal holds and erasure tombstones (migration 4): every SQL statement on callvault.holds and
 * callvault.tombstones, and the erased state of a callvault.files row. Reached as
 * `ProvenanceStore.compliance`, so the export's own store stays about exporting.
 */

/** A file row as holds and erasure select it. */
export interface SelectedFile {
  sourceId: string;
  provider: string;
  conversationId: string;
  /** 'erased': erased before; an erasure looks again for objects of it left in the store. */
  status: 'stored' | 'failed' | 'erased';
  bucket: string | null;
  objectKey: string | null;
  versionId: string | null;
  sha256: string | null;
  size: number | null;
  /** The export execution that stored it (its manifests are named after it), and when. */
  workflowId: string;
  runId: string;
  finishedAt: Date;
  hold: HoldInForce | null;
}

export interface HoldInForce {
  by: string;
  reason: string;
  at: Date;
}

/** One object version an erasure deleted. */
export interface DeletedVersion {
  key: string;
  versionId: string;
}

export interface Tombstone {
  connection: string;
  sourceId: string;
  erasedBy: string;
  reason: string;
  workflowId: string;
  deleted: DeletedVersion[];
}

export interface TombstoneRow extends Tombstone {
  provider: string;
  conversationId: string;
  sha256: string | null;
  size: number | null;
  erasedAt: Date;
}

interface SelectedRow {
  source_id: string;
  provider: string;
  conversation_id: string;
  status: SelectedFile['status'];
  bucket: string | null;
  object_key: string | null;
  version_id: string | null;
  sha256: string | null;
  size_bytes: string | null;
  workflow_id: string;
  run_id: string;
  finished_at: Date;
  set_by: string | null;
  set_reason: string | null;
  set_at: Date | null;
}

const SELECTED_COLUMNS = `f.source_id, f.provider, f.conversation_id, f.status, f.bucket, f.object_key, f.version_id, f.sha256, f.size_bytes,
  f.workflow_id, f.run_id, f.finished_at, h.set_by, h.set_reason, h.set_at`;
const WITH_HOLD = `LEFT JOIN callvault.holds h ON h.connection = f.connection AND h.source_id = f.source_id AND h.released_at IS NULL`;

/** The WHERE clause of a selection: exactly one of its three forms, as parseFileSelection allows. */
function selectionWhere(selection: FileSelection): { sql: string; params: unknown[] } {
  if (selection.conversationIds) return { sql: 'f.conversation_id = ANY($2::text[])', params: [selection.conversationIds] };
  if (selection.sourceIds) return { sql: 'f.source_id = ANY($2::text[])', params: [selection.sourceIds] };
  return { sql: 'f.source_created_at >= $2 AND f.source_created_at < $3', params: [selection.from, selection.to] };
}

function selected(r: SelectedRow): SelectedFile {
  return {
    sourceId: r.source_id,
    provider: r.provider,
    conversationId: r.conversation_id,
    status: r.status,
    bucket: r.bucket,
    objectKey: r.object_key,
    versionId: r.version_id,
    sha256: r.sha256,
    size: r.size_bytes === null ? null : Number(r.size_bytes),
    workflowId: r.workflow_id,
    runId: r.run_id,
    finishedAt: r.finished_at,
    hold: r.set_by !== null ? { by: r.set_by, reason: r.set_reason ?? '', at: r.set_at as Date } : null,
  };
}

export class ComplianceRecords {
  constructor(private readonly pool: Pool) {}

  /**
   * The files of a selection (erased ones only with `includeErased`), a page at a time in source id
   * order after `after`, each with the hold in force on it (if any).
   */
  async selectFiles(
    connection: string,
    selection: FileSelection,
    after: string | null,
    limit: number,
    includeErased = false,
  ): Promise<SelectedFile[]> {
    const where = selectionWhere(selection);
    const n = where.params.length + 2;
    const res = await this.pool.query<SelectedRow>(
      `SELECT ${SELECTED_COLUMNS} FROM callvault.files f ${WITH_HOLD}
        WHERE f.connection = $1 AND ${where.sql} AND ($${n + 2} OR f.status <> 'erased') AND ($${n}::text IS NULL OR f.source_id > $${n})
        ORDER BY f.source_id LIMIT $${n + 1}`,
      [connection, ...where.params, after, limit, includeErased],
    );
    return res.rows.map(selected);
  }

  /**
   * Holds these files (not erased ones), unless a hold is already in force: returns the source ids
   * it held. The rows are locked first, so a hold and an erasure of one file never interleave.
   */
  async setHolds(connection: string, sourceIds: readonly string[], by: string, reason: string, storeHold: string): Promise<string[]> {
    return this.transaction(async (client) => {
      const live = await client.query<{ source_id: string }>(
        `SELECT source_id FROM callvault.files WHERE connection = $1 AND source_id = ANY($2::text[]) AND status <> 'erased' FOR SHARE`,
        [connection, sourceIds],
      );
      const res = await client.query<{ source_id: string }>(
        `INSERT INTO callvault.holds (connection, source_id, set_by, set_reason, store_hold)
         SELECT $1, unnest($2::text[]), $3, $4, $5
         ON CONFLICT (connection, source_id) WHERE released_at IS NULL DO NOTHING RETURNING source_id`,
        [connection, live.rows.map((r) => r.source_id), by, reason, storeHold],
      );
      return res.rows.map((r) => r.source_id);
    });
  }

  /** Releases the holds in force on these files; returns the source ids it released. */
  async releaseHolds(connection: string, sourceIds: readonly string[], by: string, reason: string): Promise<string[]> {
    const res = await this.pool.query<{ source_id: string }>(
      `UPDATE callvault.holds SET released_by = $3, released_reason = $4, released_at = now()
        WHERE connection = $1 AND source_id = ANY($2::text[]) AND released_at IS NULL RETURNING source_id`,
      [connection, sourceIds, by, reason],
    );
    return res.rows.map((r) => r.source_id);
  }

  /**
   * Erases one file under a lock on its row: `check` sees the row (and its hold) as it is now and
   * returns a refusal, or deletes the objects and returns what it deleted; then the row becomes
   * 'erased' and the tombstone is written, in the same transaction. A hold set meanwhile waits for
   * the lock and then finds the file erased. A file erased before has its tombstone's list of
   * deleted versions extended by what was left (an object written by a transfer that raced the
   * first erasure), or is `gone` when nothing was.
   */
  async eraseLocked<R>(
    connection: string,
    sourceId: string,
    act: (file: SelectedFile) => Promise<{ deleted: DeletedVersion[] } | { refused: R }>,
    tombstone: Omit<Tombstone, 'connection' | 'sourceId' | 'deleted'>,
  ): Promise<{ erased: DeletedVersion[] } | { refused: R } | { gone: true }> {
    return this.transaction(async (client) => {
      // One file at a time per connection, across erase workflows: files share group manifests,
      // and two rewrites of one manifest from the same old version would bring an entry back.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('callvault-erase:' || $1))`, [connection]);
      const res = await client.query<SelectedRow>(
        `SELECT ${SELECTED_COLUMNS} FROM callvault.files f ${WITH_HOLD}
          WHERE f.connection = $1 AND f.source_id = $2 FOR UPDATE OF f`,
        [connection, sourceId],
      );
      const row = res.rows[0];
      if (!row) return { gone: true as const };
      const outcome = await act(selected(row));
      if ('refused' in outcome) return outcome;
      if (row.status === 'erased' && outcome.deleted.length === 0) return { gone: true as const };
      await client.query(
        `INSERT INTO callvault.tombstones AS t (connection, source_id, provider, conversation_id, sha256, size_bytes, erased_by, reason, workflow_id, deleted)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
         ON CONFLICT (connection, source_id) DO UPDATE SET deleted = t.deleted || EXCLUDED.deleted`,
        [
          connection,
          sourceId,
          row.provider,
          row.conversation_id,
          row.sha256,
          row.size_bytes,
          tombstone.erasedBy,
          tombstone.reason,
          tombstone.workflowId,
          JSON.stringify(outcome.deleted),
        ],
      );
      // The row stays (its unique source identity keeps the file out of every later export); what
      // could name a person beyond the ids goes: the original name and the source URL.
      await client.query(
        `UPDATE callvault.files SET status = 'erased', original_name = NULL, source_url = NULL WHERE connection = $1 AND source_id = $2`,
        [connection, sourceId],
      );
      return { erased: outcome.deleted };
    });
  }

  /** The tombstones of these files. */
  async tombstones(connection: string, sourceIds: readonly string[]): Promise<Map<string, TombstoneRow>> {
    if (sourceIds.length === 0) return new Map();
    const res = await this.pool.query<{
      source_id: string;
      provider: string;
      conversation_id: string;
      sha256: string | null;
      size_bytes: string | null;
      erased_by: string;
      reason: string;
      erased_at: Date;
      workflow_id: string;
      deleted: DeletedVersion[];
    }>(`SELECT * FROM callvault.tombstones WHERE connection = $1 AND source_id = ANY($2::text[])`, [connection, sourceIds]);
    return new Map(
      res.rows.map((r) => [
        r.source_id,
        {
          connection,
          sourceId: r.source_id,
          provider: r.provider,
          conversationId: r.conversation_id,
          sha256: r.sha256,
          size: r.size_bytes === null ? null : Number(r.size_bytes),
          erasedBy: r.erased_by,
          reason: r.reason,
          erasedAt: r.erased_at,
          workflowId: r.workflow_id,
          deleted: r.deleted,
        },
      ]),
    );
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      client.release();
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      throw err;
    }
  }
}
