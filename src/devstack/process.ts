import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../contracts/failures';
import { KiB } from '../contracts/units';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** Short label used in error messages, e.g. "temporal". */
  name: string;
  command: string;
  args: readonly string[];
  /** stdout and stderr are appended here; the file outlives the process for post-mortems. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default time stop() and stopAll() give it between SIGTERM and SIGKILL. */
  stopGraceMs?: number;
  /** Run as this user and group (we must be root): servers that refuse to run as root, like Postgres. */
  uid?: number;
  gid?: number;
  /**
   * The child leads a process group of its own, and kill9() (and the exit hook) kill the whole
   * group: a server that forks helpers (Postgres' backends) then dies as a machine would kill it,
   * leaving no orphan that holds its shared memory or ports.
   */
  processGroup?: boolean;
}

/** Who ended a process: we asked it to stop, we killed it, or nobody here did. */
export type EndRequest = 'stop' | 'kill' | null;

const POLL_INTERVAL_MS = 250;
const DEFAULT_STOP_GRACE_MS = 10_000;
const TAIL_LINES = 20;
const TAIL_BYTES = 64 * KiB;
const GROUP_EXIT_TIMEOUT_MS = 10_000;
const GROUP_POLL_MS = 20;

/** Every child that is still running, so nothing outlives the parent by accident. */
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous, so this cannot wait for a graceful stop; it is the
  // last line of defence against orphaned servers holding ports after a crash or a
  // process.exit() somewhere. (A SIGKILL of the parent itself cannot be caught; then the
  // children are orphaned and must be killed by hand.)
  process.on('exit', killAllSync);
}

function killAllSync(): void {
  for (const p of live) p.killNow();
}

function formatExit(info: ExitInfo): string {
  return info.signal ? `killed by ${info.signal}` : `exit code ${String(info.code)}`;
}

/** The process died before it was ready (as opposed to being slow). */
export class ExitedEarlyError extends Error {
  override readonly name = 'ExitedEarlyError';
}

/**
 * Starts a server, and starts it again on fresh ports if it dies before it is ready. Ports are
 * chosen by binding and releasing them, so another process (any client socket, whose local port
 * the kernel picks from the same range) can take one in between; that is rare, and worth a retry
 * rather than a red build.
 */
export async function startWithFreshPorts<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof ExitedEarlyError) || attempt >= attempts) throw err;
    }
  }
}

/** A server started as a child process, with its output in a log file. */
export class ManagedProcess {
  /** Resolves once the process has exited, however that happened. */
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | null = null;
  private ended: EndRequest = null;

  private constructor(
    readonly name: string,
    readonly pid: number,
    readonly logFile: string,
    readonly stopGraceMs: number,
    private readonly child: ChildProcess,
    readonly processGroup: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        resolve(this.exitInfo);
      });
    });
  }

  static async start(opts: StartProcessOptions): Promise<ManagedProcess> {
    fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
    const fd = fs.openSync(opts.logFile, 'a');
    let child: ChildProcess;
    try {
      fs.writeSync(fd, `\n=== ${new Date().toISOString()} start ${opts.name}: ${opts.command} ${opts.args.join(' ')}\n`);
      // The child writes straight into the file (no pipe through us), so its output is never
      // lost to back-pressure and it keeps logging if this process is busy or gone.
      child = spawn(opts.command, [...opts.args], {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: opts.processGroup ?? false,
        ...(opts.uid === undefined ? {} : { uid: opts.uid }),
        ...(opts.gid === undefined ? {} : { gid: opts.gid }),
      });
    } finally {
      // spawn() has already duplicated the descriptor into the child.
      fs.closeSync(fd);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`cannot start ${opts.name} (${opts.command}): ${err.message}`)));
    });
    if (child.pid === undefined) throw new Error(`cannot start ${opts.name}: no pid`);
    const managed = new ManagedProcess(
      opts.name,
      child.pid,
      opts.logFile,
      opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
      child,
      opts.processGroup ?? false,
    );
    live.add(managed);
    installExitHook();
    return managed;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** How the process ended, or null while it runs. */
  get exit(): ExitInfo | null {
    return this.exitInfo;
  }

  /** 'stop' or 'kill' once stop() or kill9() was called; signal() alone does not count. */
  get endRequested(): EndRequest {
    return this.ended;
  }

  /** It has exited, and neither stop() nor kill9() asked it to: it crashed or quit by itself. */
  get exitedUnexpectedly(): boolean {
    return this.exitInfo !== null && this.ended === null;
  }

  /** "exit code 1", "killed by SIGKILL", or "running", for assertion messages. */
  describeExit(): string {
    return this.exitInfo ? formatExit(this.exitInfo) : 'running';
  }

  /** Sends a signal without waiting; false if the process is already gone. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    try {
      return this.child.kill(sig);
    } catch {
      return false;
    }
  }

  /**
   * Polls check() until it returns true. Fails early, with the log tail, if the process dies,
   * because waiting out the timeout on a dead server only hides the reason. A check that
   * throws counts as "not yet"; its last error is reported on failure.
   */
  async waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (!this.running) throw new ExitedEarlyError(this.failure(`${this.name} exited before ${what}`, lastError).message);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.failure(`timed out after ${timeoutMs} ms waiting for ${what}`, lastError);

      const outcome = await this.raceExit(
        check().then(
          (ok) => (ok ? 'ready' : 'retry'),
          (err: unknown) => {
            lastError = err;
            return 'retry' as const;
          },
        ),
        remaining,
      );
      if (outcome === 'ready') return;
      if (outcome === 'retry') await this.raceExit(sleep(POLL_INTERVAL_MS), POLL_INTERVAL_MS);
    }
  }

  /** SIGTERM (or `signal`), then SIGKILL if it has not exited within graceMs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = this.stopGraceMs): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.ended ??= 'stop';
    this.signal(signal);
    const never = new Promise<never>(() => undefined);
    if ((await this.raceExit(never, graceMs)) === 'timeout') this.killNow();
    return this.exitedWithGroup();
  }

  /** Simulates a crash: no chance to clean up (the whole group, for a processGroup child). */
  async kill9(): Promise<ExitInfo> {
    if (!this.exitInfo) this.ended = 'kill';
    this.killNow();
    return this.exitedWithGroup();
  }

  /** SIGKILL to the process, or to its whole group; synchronous, for the exit hook. */
  killNow(): void {
    if (!this.processGroup) {
      this.signal('SIGKILL');
      return;
    }
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }

  /**
   * The leader's exit, and for a group also the end of every other member: they die in their
   * own time after the signal, and a successor must not meet one still holding resources.
   */
  private async exitedWithGroup(): Promise<ExitInfo> {
    const info = await this.exited;
    if (!this.processGroup) return info;
    const deadline = Date.now() + GROUP_EXIT_TIMEOUT_MS;
    while (processGroupMembers(this.pid).length > 0) {
      if (Date.now() > deadline) {
        this.killNow();
        throw new Error(
          `${this.name} (pid ${this.pid}): members of its process group outlived it: ${processGroupMembers(this.pid).join(', ')}`,
        );
      }
      await sleep(GROUP_POLL_MS);
    }
    return info;
  }

  /** The last lines of the log file (reads only its end, logs can be large). */
  tailLog(lines = TAIL_LINES): string {
    try {
      const fd = fs.openSync(this.logFile, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const length = Math.min(size, TAIL_BYTES);
        const buf = Buffer.alloc(length);
        fs.readSync(fd, buf, 0, length, size - length);
        return buf
          .toString('utf8')
          .split('\n')
          .filter((l) => l.length > 0)
          .slice(-lines)
          .join('\n');
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      return `(cannot read ${this.logFile}: ${errorMessage(err)})`;
    }
  }

  private failure(message: string, lastError: unknown): Error {
    const parts = [`${this.name} (pid ${this.pid}): ${message}`];
    if (this.exitInfo) parts.push(`process ended: ${formatExit(this.exitInfo)}`);
    if (lastError !== undefined) parts.push(`last check error: ${errorMessage(lastError)}`);
    parts.push(`last ${TAIL_LINES} lines of ${this.logFile}:\n${this.tailLog()}`);
    return new Error(parts.join('\n'));
  }

  /** Waits for `work`, the process exit, or `ms`, whichever comes first. */
  private async raceExit<T>(work: Promise<T>, ms: number): Promise<T | 'exited' | 'timeout'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    });
    try {
      return await Promise.race([work, this.exited.then(() => 'exited' as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Live (not zombie) processes whose process group is pgid, from /proc. */
export function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the parenthesised command: state, ppid, pgrp, ...
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') members.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return members;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Children started here that still run, e.g. to prove a test left nothing behind. */
export function runningProcesses(): ManagedProcess[] {
  return [...live];
}

/** Stops every running child concurrently, each with its own grace unless graceMs is given. */
export async function stopAll(graceMs?: number): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGTERM', graceMs ?? p.stopGraceMs)));
}

let signalHandlersInstalled = false;

/**
 * For long-running entry points (the demo): on SIGINT/SIGTERM stop all children gracefully,
 * then exit 130/143 as a shell would. A second signal while stopping kills them at once.
 * Not installed by default because a library must not hijack its host's signals (vitest has
 * its own). Returns a function that removes the handlers again.
 */
export function stopAllOnSignals(): () => void {
  if (signalHandlersInstalled) return () => undefined;
  signalHandlersInstalled = true;
  let stopping = false;
  const handler = (sig: NodeJS.Signals): void => {
    const code = sig === 'SIGINT' ? 130 : 143;
    if (stopping) {
      killAllSync();
      process.exit(code);
    }
    stopping = true;
    void stopAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    signalHandlersInstalled = false;
  };
}
