import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './ports';
import { ManagedProcess, startWithFreshPorts } from './process';

const HOST = '127.0.0.1';
const POSTGRES_ROOT = '/usr/lib/postgresql';
const READY_TIMEOUT_MS = 30_000;
/** A fast shutdown rolls back open transactions and checkpoints; seconds on a test cluster. */
const STOP_GRACE_MS = 30_000;
const run = promisify(execFile);

export interface PrivatePostgresOptions {
  /**
   * Where the cluster's own directory is made (default: the OS temp dir). When we run as root the
   * server runs as the `postgres` user, which must be able to reach this directory.
   */
  parentDir?: string;
  /** Default: a free port, chosen once and kept across stop/start. */
  port?: number;
  /** Extra server settings, as `-c name=value`. */
  settings?: Readonly<Record<string, string | number>>;
  readyTimeoutMs?: number;
}

export interface PrivatePostgresTimings {
  initdbMs: number;
  /** From launching the server to the first accepted query. */
  firstStartMs: number;
}

/**
 * A Postgres cluster of our own for tests that stop, restart or crash the database: the machine's
 * shared server must never be stopped. Listens on 127.0.0.1 only (its unix socket in its own
 * directory), trust auth, fsync off: safe against a crash of the server's processes, which is
 * what tests do, not of the machine.
 */
export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  /** The cluster's own directory: data, socket and log all live in it. */
  readonly dir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly running: boolean;
  /** The postmaster now, or the last one once stopped or killed. */
  readonly process: ManagedProcess;
  readonly timings: PrivatePostgresTimings;
  /** Starts the server again on the same port and data, after stop() or kill(). */
  start(): Promise<void>;
  /** A fast shutdown (SIGINT): clients are disconnected, the data is checkpointed, nothing is removed. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** SIGKILL to the postmaster and every backend at once, as a crash; the next start() recovers from WAL. */
  kill(): Promise<void>;
  /** Stops the server if it runs and removes the cluster's directory. */
  destroy(): Promise<void>;
}

/** The bin directory of the highest PostgreSQL version installed under /usr/lib/postgresql. */
export function postgresBinDir(root = POSTGRES_ROOT): string {
  let versions: number[];
  try {
    versions = fs
      .readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .map(Number);
  } catch {
    versions = [];
  }
  const bin = versions
    .sort((a, b) => b - a)
    .map((v) => path.join(root, String(v), 'bin'))
    .find((dir) => fs.existsSync(path.join(dir, 'initdb')));
  if (!bin) throw new Error(`no PostgreSQL server binaries (initdb) under ${root}: install the postgresql package`);
  return bin;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Postgres refuses to run as root; as root we run it as `postgres`, otherwise as ourselves. */
function serverUser(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root, but there is no `postgres` user to run a private Postgres cluster as');
  }
}

/** A directory owned by the server's user, after checking that user can reach it at all. */
function makeClusterDir(parentDir: string, user: RunAs | null): string {
  fs.mkdirSync(parentDir, { recursive: true });
  const dir = fs.mkdtempSync(path.join(path.resolve(parentDir), 'callvault-pg-'));
  if (user) {
    fs.chownSync(dir, user.uid, user.gid);
    try {
      execFileSync('test', ['-w', dir, '-a', '-x', dir], { uid: user.uid, gid: user.gid });
    } catch {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`the postgres user cannot reach ${dir}: choose a parentDir every user can enter (e.g. ${os.tmpdir()})`);
    }
  }
  return dir;
}

/** Minimal environment: PGDATA, PGPORT and friends from ours must not redirect the server. */
function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };
}

/** initdb + the first start; see PrivatePostgres. */
export async function startPrivatePostgres(opts: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const user = serverUser();
  const dir = makeClusterDir(opts.parentDir ?? os.tmpdir(), user);
  const dataDir = path.join(dir, 'data');
  const socketDir = path.join(dir, 'socket');
  const logFile = path.join(dir, 'postgres.log');
  try {
    fs.mkdirSync(socketDir, { mode: 0o700 });
    if (user) fs.chownSync(socketDir, user.uid, user.gid);
    const initStarted = Date.now();
    await run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '--no-locale', '-E', 'UTF8'], {
      env: serverEnv(),
      ...(user ?? {}),
    }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`initdb of a private cluster in ${dataDir} failed: ${err.stderr?.trim() || err.message}`);
    });
    const initdbMs = Date.now() - initStarted;
    const cluster = new Cluster({
      bin,
      user,
      dir,
      dataDir,
      socketDir,
      logFile,
      settings: opts.settings ?? {},
      readyTimeoutMs: opts.readyTimeoutMs ?? READY_TIMEOUT_MS,
    });
    const startStarted = Date.now();
    if (opts.port !== undefined) await cluster.launch(opts.port);
    else await startWithFreshPorts(async () => cluster.launch(await freePort()));
    cluster.timings = { initdbMs, firstStartMs: Date.now() - startStarted };
    return cluster;
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

interface ClusterLayout {
  bin: string;
  user: RunAs | null;
  dir: string;
  dataDir: string;
  socketDir: string;
  logFile: string;
  settings: Readonly<Record<string, string | number>>;
  readyTimeoutMs: number;
}

class Cluster implements PrivatePostgres {
  timings: PrivatePostgresTimings = { initdbMs: 0, firstStartMs: 0 };
  private current: ManagedProcess | null = null;
  private chosenPort: number | null = null;

  constructor(private readonly layout: ClusterLayout) {}

  get port(): number {
    if (this.chosenPort === null) throw new Error('private Postgres has no port before its first start');
    return this.chosenPort;
  }
  get url(): string {
    return `postgres://postgres@${HOST}:${this.port}/postgres`;
  }
  get dir(): string {
    return this.layout.dir;
  }
  get dataDir(): string {
    return this.layout.dataDir;
  }
  get socketDir(): string {
    return this.layout.socketDir;
  }
  get logFile(): string {
    return this.layout.logFile;
  }
  get running(): boolean {
    return this.current?.running ?? false;
  }
  get process(): ManagedProcess {
    if (!this.current) throw new Error('private Postgres has not been started');
    return this.current;
  }

  /** Runs the postmaster in the foreground as our child, so it can never outlive this process. */
  async launch(port: number): Promise<void> {
    const { bin, user, dataDir, socketDir, logFile, settings, readyTimeoutMs } = this.layout;
    const all: Record<string, string | number> = {
      listen_addresses: HOST,
      unix_socket_directories: socketDir,
      // Skipping fsync (and full-page images, which only guard against torn pages on an OS
      // crash) is safe when only processes die: written WAL is in the page cache. Commits stay
      // synchronous, else a kill -9 could lose commits a client was told had happened.
      fsync: 'off',
      full_page_writes: 'off',
      ...settings,
    };
    const proc = await ManagedProcess.start({
      name: 'postgres (private)',
      command: path.join(bin, 'postgres'),
      args: ['-D', dataDir, '-p', String(port), ...Object.entries(all).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
      env: serverEnv(),
      logFile,
      stopGraceMs: STOP_GRACE_MS,
      processGroup: true,
      ...(user ?? {}),
    });
    this.current = proc;
    const url = `postgres://postgres@${HOST}:${port}/postgres`;
    try {
      await proc.waitUntil(() => acceptsQueries(url), readyTimeoutMs, `private Postgres to accept queries on port ${port}`);
    } catch (err) {
      await proc.kill9();
      throw err;
    }
    this.chosenPort = port;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`private Postgres on port ${this.port} is already running`);
    await this.launch(this.port);
  }

  async stop(): Promise<void> {
    // SIGINT is Postgres' "fast" shutdown; SIGTERM would wait for every client to leave.
    await this.current?.stop('SIGINT');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async kill(): Promise<void> {
    await this.current?.kill9();
  }

  async destroy(): Promise<void> {
    await this.current?.kill9();
    fs.rmSync(this.layout.dir, { recursive: true, force: true });
  }
}

async function acceptsQueries(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}
