import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../worker/runtime';
import type { WorkerRole } from '../worker/roles';
import { ManagedProcess, type EndRequest, type ExitInfo } from './process';
import { repoRoot } from './tools';
import { KiB } from '../contracts/units';

export interface WorkerProcessOptions {
  configPath: string;
  /** The worker's whole environment (default: this process's), with the secrets the configuration names. */
  env?: NodeJS.ProcessEnv;
  logFile: string;
  role?: WorkerRole;
  /** Diagnostics only (--cpu-prof and the like); timed runs and tests pass none. */
  extraNodeFlags?: readonly string[];
  /** Another checkout's build to run (A/B comparisons); default this one. */
  repo?: string;
}

/** Peak resident set of a process so far (VmHWM), in bytes; null when it is gone. */
export function peakRssBytes(pid: number): number | null {
  return statusBytes(pid, 'VmHWM');
}

/** A memory figure of /proc/<pid>/status in bytes (VmHWM, VmRSS); null when the process is gone. */
function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * KiB;
  } catch {
    return null;
  }
}

/**
 * A worker process started exactly as `callvault worker` runs (WORKER_NODE_FLAGS, WORKER_ENV), ready once
 * it says it is polling. The demo, the integration tests and the benchmark all start workers here.
 */
export class WorkerProcess {
  private peak = 0;

  private constructor(
    readonly process: ManagedProcess,
    readonly role: WorkerRole,
    private readonly logStart: number,
  ) {}

  static async start(options: WorkerProcessOptions): Promise<WorkerProcess> {
    const role = options.role ?? 'all';
    const logStart = existsSync(options.logFile) ? statSync(options.logFile).size : 0;
    const proc = await ManagedProcess.start({
      name: `worker (${role})`,
      command: process.execPath,
      args: [...WORKER_NODE_FLAGS, ...(options.extraNodeFlags ?? []), join(options.repo ?? repoRoot(), 'dist/src/cli/main.js'), 'worker'],
      env: {
        ...WORKER_ENV,
        ...(options.env ?? process.env),
        CALLVAULT_CONFIG: options.configPath,
        CALLVAULT_WORKER_ROLE: role,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      logFile: options.logFile,
      stopGraceMs: 15_000,
    });
    const worker = new WorkerProcess(proc, role, logStart);
    await proc.waitUntil(async () => worker.log().includes('polling'), 60_000, 'the worker to poll its task queues');
    worker.peakRssBytes();
    return worker;
  }

  get pid(): number {
    return this.process.pid;
  }

  get logFile(): string {
    return this.process.logFile;
  }

  /** What this worker wrote to its log (earlier runs into the same file excluded). */
  log(): string {
    return readFileSync(this.logFile).subarray(this.logStart).toString('utf8');
  }

  /** Resident set now (VmRSS). */
  rssBytes(): number {
    return statusBytes(this.pid, 'VmRSS') ?? 0;
  }

  /** Largest VmHWM read so far: read it before stopping, the kernel forgets it with the process. */
  peakRssBytes(): number {
    this.peak = Math.max(this.peak, peakRssBytes(this.pid) ?? 0);
    return this.peak;
  }

  get running(): boolean {
    return this.process.running;
  }

  /** Exit code and signal once it has exited, else null. */
  get exit(): ExitInfo | null {
    return this.process.exit;
  }

  /** 'kill' after kill9(), 'stop' after stop(), null if we never ended it. */
  get endRequested(): EndRequest {
    return this.process.endRequested;
  }

  /** It exited and we neither stopped nor killed it: the worker died of something it met. */
  get exitedUnexpectedly(): boolean {
    return this.process.exitedUnexpectedly;
  }

  /** One line for an assertion message: who, how it ended, and the end of its log. */
  describe(): string {
    return `${this.process.name} pid ${this.pid}: ${this.process.describeExit()}${this.endRequested ? ` (we asked: ${this.endRequested})` : ''}\n${this.process.tailLog(10)}`;
  }

  /** A crash: no chance to clean up. */
  async kill9(): Promise<void> {
    this.peakRssBytes();
    await this.process.kill9();
  }

  async stop(): Promise<void> {
    this.peakRssBytes();
    await this.process.stop();
  }
}
