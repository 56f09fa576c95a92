import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { errorMessage } from '../contracts/failures';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const CONNECT_TIMEOUT_MS = 5_000;
const MIN_SERVER_VERSION_NUM = 130_000; // DROP DATABASE ... WITH (FORCE) needs 13
const MAX_IDENTIFIER_LENGTH = 63;

/** DATABASE_URL from the environment, else the local default. */
export function defaultDatabaseUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** The URL without its password, safe for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

/** The advice setup.sh prints; kept word for word in sync with it. */
export function postgresHelp(url: string): string {
  return [
    `cannot reach Postgres at ${redactUrl(url)}`,
    '  callvault needs a reachable Postgres 13 or newer for provenance (tests and demo too).',
    '  - Point DATABASE_URL at one, e.g. export DATABASE_URL=postgres://user:pass@host:5432/postgres',
    '  - or, on a Debian/Ubuntu machine with the postgresql package installed, start the local cluster:',
    '      pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  ].join('\n');
}

function databaseOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`database URL ${redactUrl(url)} names no database`);
  return name;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Runs fn with a short-lived client; always closes it. */
async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // Without a listener, a connection dropped by the server would crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Server-level work happens in the `postgres` database, which always exists. */
function withAdminClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  return withClient(withDatabase(url, 'postgres'), fn);
}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Throws with setup advice unless the server of `url` accepts connections and is 13+. */
export async function checkPostgres(url: string = defaultDatabaseUrl()): Promise<void> {
  let versionNum: number;
  try {
    versionNum = await withAdminClient(url, async (c) => {
      const res = await c.query<{ v: string }>('SHOW server_version_num');
      return Number(res.rows[0]?.v);
    });
  } catch (err) {
    const reason = errorMessage(err);
    throw new Error(`${postgresHelp(url)}\n  (${reason})`);
  }
  if (versionNum < MIN_SERVER_VERSION_NUM) {
    throw new Error(`Postgres at ${redactUrl(url)} is version ${versionNum}; callvault needs 13 or newer`);
  }
}

/** Creates the database named in `url` unless it exists. */
export async function ensureDatabase(url: string = defaultDatabaseUrl()): Promise<void> {
  const name = databaseOf(url);
  await withAdminClient(url, async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return;
    try {
      await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (err) {
      // Two processes may race past the existence check: 42P04 duplicate_database, or 23505 when
      // they collide on pg_database's unique index mid-creation.
      const code = pgCode(err);
      if (code !== '42P04' && code !== '23505') throw err;
    }
  });
}

export interface ScratchDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops it even if connections are still open (a test's pool may not be closed yet). */
  drop(): Promise<void>;
}

/** A fresh, uniquely named database on the server of `baseUrl`, for one test run. */
export async function createScratchDatabase(baseUrl: string = defaultDatabaseUrl(), prefix = 'callvault_test'): Promise<ScratchDatabase> {
  const suffix = `_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const cleanPrefix = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, MAX_IDENTIFIER_LENGTH - suffix.length);
  const name = `${cleanPrefix}${suffix}`;
  await withAdminClient(baseUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  return {
    name,
    url: withDatabase(baseUrl, name),
    drop: () =>
      withAdminClient(baseUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      }),
  };
}
