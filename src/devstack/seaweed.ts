import fs from 'node:fs';
import path from 'node:path';
import { DeleteBucketCommand, DeleteObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ObjectStore } from '../storage/objectStore';
import { freePorts } from './ports';
import { ManagedProcess, startWithFreshPorts } from './process';
import { findTool } from './tools';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
/**
 * On SIGTERM weed's filer waits a hard-coded 15 s for its gRPC streams to drain, and its own
 * metadata subscription never ends by itself, so a "graceful" stop always takes 15 s. Killing
 * it sooner loses nothing acknowledged (volume files and the filer's leveldb journal are
 * written with plain write(2), which survives the process), so give in-flight requests a few
 * seconds and then SIGKILL.
 */
const STOP_GRACE_MS = 5_000;
const PROBE_BUCKET = 'callvault-devstack-probe';

/** SeaweedFS accepts any credentials when no identities are configured; these are placeholders. */
export const DEV_S3_CREDENTIALS = { accessKeyId: 'callvault-dev', secretAccessKey: 'callvault-dev-secret' } as const;
export const DEV_S3_REGION = 'us-east-1';

export interface SeaweedOptions {
  dataDir: string;
  /** Defaults to `<dataDir>/weed.log`. */
  logFile?: string;
  readyTimeoutMs?: number;
  /**
   * Configure one identity, DEV_S3_CREDENTIALS, so SeaweedFS checks every request's SigV4
   * signature, as a store in production does (the default). Without one it accepts any
   * credentials and checks none, and refuses a streamed PutObject with a checksum trailer
   * (InvalidAccessKeyId), which callvault then sends as multipart uploads instead.
   */
  authenticate?: boolean;
  /**
   * A 256-bit key (hex) that turns on SSE-S3: without one SeaweedFS refuses every write that asks
   * for server-side encryption (500, "SSE-S3 encryption is not configured").
   */
  sseS3Key?: string;
}

export interface SeaweedPorts {
  master: number;
  masterGrpc: number;
  volume: number;
  volumeGrpc: number;
  filer: number;
  filerGrpc: number;
  s3: number;
  s3Grpc: number;
}

export interface SeaweedServer {
  /** http://127.0.0.1:<s3 port>; the same after kill9()/stop() and start(). */
  readonly endpoint: string;
  readonly ports: SeaweedPorts;
  readonly dataDir: string;
  readonly logFile: string;
  /** The current process; a new one after start(). */
  readonly process: ManagedProcess;
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after graceMs (default 5 s: weed's own shutdown always takes 15). */
  stop(opts?: { graceMs?: number }): Promise<void>;
  /** A crash: SIGKILL, nothing flushed beyond what weed already wrote. */
  kill9(): Promise<void>;
  /** Starts again on the same ports and data directory; resolves when S3 accepts writes. */
  start(): Promise<void>;
  /** kill9() (hard, the default) or stop(), a pause of downMs, then start(). */
  restart(opts?: { hard?: boolean; downMs?: number }): Promise<void>;
}

/** An S3 client set up the way SeaweedFS needs it (path-style, no default CRC32 checksums). */
export function devS3Client(endpoint: string, timeoutMs = 10_000): S3Client {
  return new S3Client({
    endpoint,
    region: DEV_S3_REGION,
    forcePathStyle: true,
    credentials: DEV_S3_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({ connectionTimeout: Math.min(timeoutMs, 2_000), requestTimeout: timeoutMs }),
  });
}

/** Runs `weed server` (master, volume, filer, S3) on ports we choose; resolves when S3 accepts writes. */
export function startSeaweed(opts: SeaweedOptions): Promise<SeaweedServer> {
  return startWithFreshPorts(() => startSeaweedOnce(opts));
}

async function startSeaweedOnce(opts: SeaweedOptions): Promise<SeaweedServer> {
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.resolve(opts.logFile ?? path.join(dataDir, 'weed.log'));
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = (await freePorts(8)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ports: SeaweedPorts = { master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc };
  const endpoint = `http://${HOST}:${s3}`;
  const args = weedArgs(dataDir, ports, opts.authenticate !== false ? writeIdentities(dataDir) : null);
  const timeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;

  const launch = async (): Promise<ManagedProcess> => {
    const env = opts.sseS3Key ? { ...process.env, WEED_S3_SSE_KEY: opts.sseS3Key } : undefined;
    const proc = await ManagedProcess.start({
      name: 'weed',
      command: findTool('weed'),
      args,
      logFile,
      stopGraceMs: STOP_GRACE_MS,
      ...(env ? { env } : {}),
    });
    // weed also listens on unix sockets named after our ports in /tmp and leaves them behind
    // when killed. A later weed replaces stale ones, so this is tidiness, not correctness.
    void proc.exited.then(() => removeStaleSockets(ports));
    try {
      await proc.waitUntil(() => s3AcceptsWrites(endpoint), timeoutMs, `SeaweedFS S3 at ${endpoint} to accept writes`);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    await devS3Client(endpoint)
      .send(new DeleteBucketCommand({ Bucket: PROBE_BUCKET }))
      .catch(() => undefined);
    return proc;
  };

  let current = await launch();
  const server: SeaweedServer = {
    endpoint,
    ports,
    dataDir,
    logFile,
    get process() {
      return current;
    },
    get running() {
      return current.running;
    },
    async stop(stopOpts) {
      await current.stop('SIGTERM', stopOpts?.graceMs);
      removeStaleSockets(ports);
    },
    async kill9() {
      await current.kill9();
      removeStaleSockets(ports);
    },
    async start() {
      if (current.running) throw new Error(`SeaweedFS at ${endpoint} is already running`);
      current = await launch();
    },
    async restart(restartOpts) {
      await (restartOpts?.hard === false ? server.stop() : server.kill9());
      if (restartOpts?.downMs) await new Promise((resolve) => setTimeout(resolve, restartOpts.downMs));
      await server.start();
    },
  };
  return server;
}

function weedArgs(dataDir: string, ports: SeaweedPorts, identitiesFile: string | null): string[] {
  return [
    // glog otherwise also writes weed.* log files into /tmp; stderr already goes to our log.
    '-logtostderr=true',
    'server',
    `-dir=${dataDir}`,
    `-ip=${HOST}`,
    `-ip.bind=${HOST}`,
    `-master.port=${ports.master}`,
    `-master.port.grpc=${ports.masterGrpc}`,
    '-master.telemetry=false',
    // A master restarted on its old data waits out a raft election before it serves (20 s at
    // the default 10 s timeout); it is the only master, so a short timeout costs nothing.
    '-master.electionTimeout=1s',
    // Every bucket is a collection that grows several volumes at once. With -volume.max=0 (auto:
    // free disk / volume size limit) the 12th bucket of a test run failed with InternalError, and
    // every later test on the shared stack with it; volumes are not preallocated, so a high count
    // costs nothing until written.
    '-master.volumeSizeLimitMB=1024',
    `-volume.port=${ports.volume}`,
    `-volume.port.grpc=${ports.volumeGrpc}`,
    '-volume.max=1000',
    // No peer to hand over to, so waiting (default 10 s) before stopping only slows shutdown.
    '-volume.preStopSeconds=0',
    '-filer',
    `-filer.port=${ports.filer}`,
    `-filer.port.grpc=${ports.filerGrpc}`,
    '-s3',
    `-s3.port=${ports.s3}`,
    `-s3.port.grpc=${ports.s3Grpc}`,
    // Both default ON (8181, 9101): extra servers on ports we did not choose.
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    ...(identitiesFile ? [`-s3.config=${identitiesFile}`] : []),
  ];
}

/** The S3 identities file that makes weed check signatures: one admin, DEV_S3_CREDENTIALS. */
function writeIdentities(dataDir: string): string {
  const file = path.join(dataDir, 's3-identities.json');
  const identity = {
    name: 'callvault-dev',
    credentials: [{ accessKey: DEV_S3_CREDENTIALS.accessKeyId, secretKey: DEV_S3_CREDENTIALS.secretAccessKey }],
    actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
  };
  fs.writeFileSync(file, JSON.stringify({ identities: [identity] }, null, 2), { mode: 0o600 });
  return file;
}

/**
 * ListBuckets answers before the master has volumes to write to; only a real write proves
 * the store is usable.
 */
async function s3AcceptsWrites(endpoint: string): Promise<boolean> {
  const s3 = devS3Client(endpoint, 5_000);
  try {
    await s3.send(new ListBucketsCommand({}));
    await new ObjectStore(s3, PROBE_BUCKET).ensureBucket();
    await s3.send(new PutObjectCommand({ Bucket: PROBE_BUCKET, Key: 'probe', Body: 'ok' }));
    await s3.send(new DeleteObjectCommand({ Bucket: PROBE_BUCKET, Key: 'probe' }));
    return true;
  } finally {
    s3.destroy();
  }
}

/** Creates the bucket unless it exists already (safe to call concurrently). */
export async function ensureBucket(endpoint: string, bucket: string): Promise<void> {
  const s3 = devS3Client(endpoint);
  try {
    await new ObjectStore(s3, bucket).ensureBucket();
  } finally {
    s3.destroy();
  }
}

function removeStaleSockets(ports: SeaweedPorts): void {
  const names = [
    `seaweedfs-master-grpc-${ports.masterGrpc}.sock`,
    `seaweedfs-volume-grpc-${ports.volumeGrpc}.sock`,
    `seaweedfs-filer-${ports.filer}.sock`,
    `seaweedfs-filer-grpc-${ports.filerGrpc}.sock`,
    `seaweedfs-s3-${ports.s3}.sock`,
    `seaweedfs-s3-grpc-${ports.s3Grpc}.sock`,
  ];
  const listening = boundUnixSockets();
  for (const name of names) {
    const file = path.join('/tmp', name);
    // Another weed may have drawn the same port since ours exited; leave its socket alone.
    if (listening.has(file)) continue;
    try {
      if (fs.lstatSync(file).isSocket()) fs.unlinkSync(file);
    } catch {
      // Already gone.
    }
  }
}

function boundUnixSockets(): Set<string> {
  try {
    const lines = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
    return new Set(lines.map((l) => l.trim().split(/\s+/)[7]).filter((p): p is string => p !== undefined));
  } catch {
    return new Set();
  }
}
