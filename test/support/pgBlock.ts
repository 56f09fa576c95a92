import pg from 'pg';

/** Lock modes that let reads through but make writers wait. */
export type WriteBlockingLockMode = 'SHARE' | 'SHARE ROW EXCLUSIVE' | 'EXCLUSIVE';

/** A statement of another session that waits for our lock. */
export interface BlockedStatement {
  pid: number;
  applicationName: string;
  query: string;
  /** Since when it waits (its statement start). */
  since: Date;
}

export interface WriteBlock {
  /** The backend pid of the session that holds the lock. */
  readonly pid: number;
  /** Statements waiting for the lock now, filtered by `matching` (default: any). */
  blocked(matching?: RegExp): Promise<BlockedStatement[]>;
  /** Resolves once at least one statement matching `matching` waits for the lock. */
  waitUntilBlocked(options?: { matching?: RegExp; timeoutMs?: number }): Promise<BlockedStatement[]>;
  /** Ends the locking transaction (a rollback; it wrote nothing); waiting statements go on. */
  release(): Promise<void>;
}

/** The provenance INSERT of stored and failed files (ProvenanceStore.upsertFiles). */
export const PROVENANCE_INSERT = /^\s*INSERT\s+INTO\s+callvault\.files\b/i;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/**
 * Holds `LOCK TABLE <table> IN <mode> MODE` in an open transaction until release(): SELECTs go on,
 * INSERT/UPDATE/DELETE on the table wait. The default blocks the provenance INSERT, so a test can
 * kill a worker while it waits. Note what Postgres does then: a backend waiting on a lock does not
 * notice its client is gone, so an autocommit INSERT whose worker was killed still commits once the
 * lock is released (an INSERT inside an explicit transaction is rolled back instead).
 */
export async function blockWrites(
  databaseUrl: string,
  options: { table?: string; mode?: WriteBlockingLockMode } = {},
): Promise<WriteBlock> {
  const table = options.table ?? 'callvault.files';
  const mode = options.mode ?? 'SHARE ROW EXCLUSIVE';
  if (!IDENT.test(table)) throw new Error(`blockWrites: table must be a plain [schema.]name, got ${JSON.stringify(table)}`);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'callvault-test-lock' });
  client.on('error', () => undefined); // a restarted server ends the lock with the session
  await client.connect();
  let pid: number;
  try {
    pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await client.query('BEGIN');
    await client.query(`LOCK TABLE ${table} IN ${mode} MODE`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }

  // Our own session is busy holding the lock, so look at the waiters from a second one.
  let observer: pg.Client | null = null;
  const blocked = async (matching?: RegExp): Promise<BlockedStatement[]> => {
    if (!observer) {
      observer = new pg.Client({ connectionString: databaseUrl, application_name: 'callvault-test-lock-observer' });
      observer.on('error', () => undefined);
      await observer.connect();
    }
    const res = await observer.query<{ pid: number; application_name: string; query: string; query_start: Date }>(
      `SELECT pid, application_name, query, query_start FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) ORDER BY query_start`,
      [pid],
    );
    return res.rows
      .map((r) => ({ pid: r.pid, applicationName: r.application_name, query: r.query, since: r.query_start }))
      .filter((r) => !matching || matching.test(r.query));
  };

  return {
    pid,
    blocked,
    async waitUntilBlocked({ matching, timeoutMs = 30_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await blocked(matching);
        if (found.length > 0) return found;
        if (Date.now() > deadline)
          throw new Error(`no statement${matching ? ` matching ${matching}` : ''} waited for the lock on ${table} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async release() {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
      await observer?.end().catch(() => undefined);
    },
  };
}
