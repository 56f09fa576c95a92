import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort, freePorts } from './ports';
import { ManagedProcess, startWithFreshPorts } from './process';
import { findTool } from './tools';
import { CALLVAULT_SEARCH_ATTRIBUTES } from '../contracts/searchAttributes';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export interface TemporalOptions {
  dataDir: string;
  /** Frontend gRPC port; a free one is chosen when omitted. */
  port?: number;
  /** Web UI port; a free one is chosen when omitted (ignored when headless). */
  uiPort?: number;
  /**
   * SQLite file for durable state; defaults to `<dataDir>/temporal.sqlite`. null keeps state in
   * memory, so a restart() then starts from scratch.
   */
  dbFile?: string | null;
  dynamicConfig?: Record<string, unknown>;
  headless?: boolean;
  /** Namespaces to create besides `default`. */
  namespaces?: readonly string[];
  /** Defaults to `<dataDir>/temporal.log`. */
  logFile?: string;
  readyTimeoutMs?: number;
}

export interface TemporalServer {
  /** host:port of the frontend, for Connection.connect / NativeConnection.connect. */
  readonly address: string;
  readonly uiUrl: string | null;
  readonly port: number;
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly uiPort: number | null;
  /** Every port we chose and passed on the command line. */
  readonly chosenPorts: readonly number[];
  /**
   * Ports the dev server picks for itself for its internal history, matching and worker
   * services (bound to 127.0.0.1). start-dev has no flag to set them; we read them from its
   * --log-config output so callers at least know about them. They change on restart().
   */
  readonly internalPorts: readonly number[];
  readonly dbFile: string | null;
  readonly logFile: string;
  /** The current process; a new one after restart() or start(). */
  readonly process: ManagedProcess;
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** A crash: SIGKILL. State survives in the db file (not with dbFile: null). */
  kill9(): Promise<void>;
  /**
   * Starts again after stop() or kill9(), on the same ports we chose and the same database file,
   * so clients and workers configured with `address` reconnect by themselves.
   */
  start(): Promise<void>;
  /** Stops and starts again on the same ports and database file (kill-and-restart tests). */
  restart(): Promise<void>;
}

/** Runs `temporal server start-dev` on ports we choose and waits until it answers gRPC calls. */
export function startTemporal(opts: TemporalOptions): Promise<TemporalServer> {
  return startWithFreshPorts(() => startTemporalOnce(opts));
}

async function startTemporalOnce(opts: TemporalOptions): Promise<TemporalServer> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const ports = await choosePorts(opts);
  const { port, uiPort, httpPort, metricsPort } = ports;
  const dbFile = opts.dbFile === null ? null : path.resolve(opts.dbFile ?? path.join(opts.dataDir, 'temporal.sqlite'));
  const logFile = path.resolve(opts.logFile ?? path.join(opts.dataDir, 'temporal.log'));
  const address = `${HOST}:${port}`;
  const launch = launcher(startDevArgs(opts, ports, dbFile), logFile, address, opts.readyTimeoutMs ?? READY_TIMEOUT_MS);

  let current = await launch();
  const stop = async (): Promise<void> => {
    await current.proc.stop();
  };

  return {
    address,
    uiUrl: uiPort === null ? null : `http://${HOST}:${uiPort}`,
    port,
    httpPort,
    metricsPort,
    uiPort,
    chosenPorts: [port, httpPort, metricsPort, ...(uiPort === null ? [] : [uiPort])],
    get internalPorts() {
      return current.internalPorts;
    },
    dbFile,
    logFile,
    get process() {
      return current.proc;
    },
    get running() {
      return current.proc.running;
    },
    stop,
    async kill9() {
      await current.proc.kill9();
    },
    async start() {
      if (current.proc.running) throw new Error(`Temporal at ${address} is already running`);
      current = await launch();
    },
    async restart() {
      await stop();
      current = await launch();
    },
  };
}

interface TemporalPorts {
  port: number;
  /** null when headless. */
  uiPort: number | null;
  httpPort: number;
  metricsPort: number;
}

/** The ports asked for, and free ones for the rest. */
async function choosePorts(opts: TemporalOptions): Promise<TemporalPorts> {
  const port = opts.port ?? (await freePort());
  const uiPort = (opts.headless ?? false) ? null : (opts.uiPort ?? (await freePort()));
  const [httpPort, metricsPort] = (await freePorts(2)) as [number, number];
  return { port, uiPort, httpPort, metricsPort };
}

/** The command line of `temporal server start-dev` on these ports. */
function startDevArgs(opts: TemporalOptions, ports: TemporalPorts, dbFile: string | null): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    HOST,
    '--port',
    String(ports.port),
    '--http-port',
    String(ports.httpPort),
    '--metrics-port',
    String(ports.metricsPort),
    '--log-level',
    'warn',
    // Prints the effective server config (to our log), the only place the internal ports show.
    '--log-config',
    // Never read the user's ~/.config/temporalio profile: it could opt into the CLI's online
    // update check, and a dev server should behave the same on every machine.
    '--disable-config-file',
    ...(ports.uiPort === null ? ['--headless'] : ['--ui-port', String(ports.uiPort), '--ui-disable-news-fetch']),
    ...(dbFile === null ? [] : ['--db-filename', dbFile]),
    ...(opts.namespaces ?? []).flatMap((ns) => ['--namespace', ns]),
    // The exports' search attributes (the worker refuses to start without them), on every namespace.
    ...CALLVAULT_SEARCH_ATTRIBUTES.flatMap((sa) => ['--search-attribute', `${sa.name}=${startDevType(sa.type)}`]),
    // The server otherwise calls home to check for newer versions.
    '--dynamic-config-value',
    'frontend.enableServerVersionCheck=false',
    // A task queue's rate limit (callvault paces each connection's transfers by it) is split evenly
    // over the queue's partitions, four by default, and a backlog in one partition drains at its
    // share: a queue paced at 1.25 starts a second started its last batches 3.2 s apart. One
    // partition keeps the pace whole (README.md, "Running it for real", says the same for servers).
    '--dynamic-config-value',
    'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value',
    'matching.numTaskqueueWritePartitions=1',
    ...Object.entries(opts.dynamicConfig ?? {}).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]),
  ];
}

/** `KEYWORD` as start-dev spells it: `Keyword`. */
function startDevType(type: string): string {
  return type.charAt(0) + type.slice(1).toLowerCase();
}

/** Starts the server process and waits until it answers; each call starts it anew (start(), restart()). */
function launcher(
  args: string[],
  logFile: string,
  address: string,
  timeoutMs: number,
): () => Promise<{ proc: ManagedProcess; internalPorts: number[] }> {
  return async () => {
    const logOffset = fileSize(logFile);
    const proc = await ManagedProcess.start({
      name: 'temporal',
      command: findTool('temporal'),
      args,
      logFile,
      stopGraceMs: STOP_GRACE_MS,
    });
    try {
      await proc.waitUntil(() => temporalAnswers(address), timeoutMs, `Temporal to answer on ${address}`);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    return { proc, internalPorts: readInternalPorts(logFile, logOffset) };
  };
}

/** Ready means the frontend serves requests and the default namespace is registered. */
async function temporalAnswers(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    return true;
  } finally {
    await connection.close();
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Parses the `services: <name>: rpc: grpcPort:` entries of this run's --log-config YAML. */
function readInternalPorts(logFile: string, fromOffset: number): number[] {
  let text: string;
  try {
    text = fs.readFileSync(logFile).subarray(fromOffset).toString('utf8');
  } catch {
    return [];
  }
  const ports: number[] = [];
  const re = /^\s+(history|matching|worker):\s*\n\s+rpc:\s*\n\s+grpcPort:\s*(\d+)/gm;
  for (const m of text.matchAll(re)) ports.push(Number(m[2]));
  return ports;
}
