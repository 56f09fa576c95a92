import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKER_NODE_FLAGS } from '../src/worker/runtime';
import { peakRssBytes } from './measure';

const repo = join(__dirname, '..', '..');

export interface WorkerProcess {
  role: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Largest VmHWM read so far (read it before stopping: the kernel forgets it with the process). */
  peakRss(): number;
  /** VmHWM when the worker said it was polling: what starting up cost, before any work. */
  readyRss: number;
  stop(): Promise<void>;
}

/**
 * Starts a worker exactly as test/support/harness.ts does (and as `callvault worker` runs):
 * `node <WORKER_NODE_FLAGS> dist/src/cli/main.js worker` with CALLVAULT_CONFIG. `extraNodeFlags`
 * is only for the diagnostic pass (--cpu-prof, the request counter); timed runs pass none.
 */
export async function spawnWorker(options: {
  configPath: string;
  role: 'all' | 'workflows' | 'transfers';
  env: Record<string, string>;
  logFile: string;
  extraNodeFlags?: string[];
  /** Another checkout's build to run the worker from (A/B comparison of a change); default this one. */
  workerRepo?: string;
}): Promise<WorkerProcess> {
  const fd = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...(options.extraNodeFlags ?? []), join(options.workerRepo ?? repo, 'dist/src/cli/main.js'), 'worker'], {
    env: {
      ...process.env,
      ...options.env,
      CALLVAULT_CONFIG: options.configPath,
      CALLVAULT_WORKER_ROLE: options.role,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const pid = child.pid!;
  const log = () => readFileSync(options.logFile, 'utf8');
  const deadline = Date.now() + 60_000;
  while (!log().includes('polling')) {
    if (child.exitCode !== null) throw new Error(`${options.role} worker exited with ${child.exitCode} before it was ready:\n${log()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.role} worker not ready after 60 s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let peak = 0;
  const peakRss = () => {
    peak = Math.max(peak, peakRssBytes(pid) ?? 0);
    return peak;
  };
  return {
    role: options.role,
    pid,
    child,
    logFile: options.logFile,
    peakRss,
    readyRss: peakRss(),
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      peakRss();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
