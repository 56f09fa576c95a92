import { fork, type ChildProcess } from 'node:child_process';
import { BirdSimulator } from '../src/simulators/bird';
import { errorMessage } from '../src/contracts/failures';

/**
 * The Bird simulator in a child process of its own, so that generating content (AES-CTR) and
 * serving it never shares an event loop with the baseline loop in the bench process: both sides
 * of the comparison get the same, separate source.
 */

export interface SimulatorSpec {
  seed: string;
  files: number;
  size: number;
  from: string;
  to: string;
  /** Bird's published limit enforced on the API (429 + Retry-After beyond it); unset: none. */
  apiRequestsPerSecond?: number;
}

export interface SimulatorInfo {
  baseUrl: string;
  storageHost: string;
  workspaceId: string;
  accessKey: string;
}

export interface SimulatorStats {
  /** Media body bytes the storage origin sent. */
  mediaBytes: number;
  /** Requests by server (`bird-api`, `bird-storage`). */
  requests: Record<string, number>;
  /** API requests answered 429 (only under `apiRequestsPerSecond`). */
  throttled: number;
}

type ToChild = { type: 'start'; spec: SimulatorSpec } | { type: 'stats'; id: number } | { type: 'stop' };
type FromChild =
  | { type: 'started'; info: SimulatorInfo }
  | { type: 'stats'; id: number; stats: SimulatorStats }
  | { type: 'error'; message: string };

export interface SimulatorProcess {
  pid: number;
  info: SimulatorInfo;
  stats(): Promise<SimulatorStats>;
  stop(): Promise<void>;
}

export async function startSimulator(spec: SimulatorSpec): Promise<SimulatorProcess> {
  const child: ChildProcess = fork(__filename, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, (s: SimulatorStats) => void>();
  let nextId = 1;
  const info = await new Promise<SimulatorInfo>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited (${code}) before it started`)));
    child.on('message', (msg: FromChild) => {
      if (msg.type === 'started') resolve(msg.info);
      else if (msg.type === 'error') reject(new Error(`simulator: ${msg.message}`));
      else if (msg.type === 'stats') {
        pending.get(msg.id)?.(msg.stats);
        pending.delete(msg.id);
      }
    });
    child.send({ type: 'start', spec } satisfies ToChild);
  });
  process.once('exit', () => child.kill('SIGKILL'));
  return {
    pid: child.pid!,
    info,
    stats() {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        if (!child.connected) return reject(new Error('simulator is gone'));
        pending.set(id, resolve);
        child.send({ type: 'stats', id } satisfies ToChild, (err) => {
          if (!err) return;
          pending.delete(id);
          reject(err);
        });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'stop' } satisfies ToChild, () => undefined);
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function runChild(): Promise<void> {
  let sim: BirdSimulator | null = null;
  const send = (msg: FromChild) => process.send?.(msg);
  process.on('message', (msg: ToChild) => {
    void (async () => {
      try {
        if (msg.type === 'start') {
          const { spec } = msg;
          const recordings = BirdSimulator.generate({
            seed: spec.seed,
            count: spec.files,
            from: spec.from,
            to: spec.to,
            size: { min: spec.size, max: spec.size },
          });
          // Long runs must not outlive the signed URLs the baseline listed up front.
          sim = new BirdSimulator({
            seed: spec.seed,
            recordings,
            signedUrlTtlSeconds: 24 * 3600,
            ...(spec.apiRequestsPerSecond !== undefined ? { apiRequestsPerSecond: spec.apiRequestsPerSecond } : {}),
          });
          await sim.start();
          send({
            type: 'started',
            info: { baseUrl: sim.baseUrl, storageHost: sim.storageHost, workspaceId: sim.workspaceId, accessKey: sim.accessKey },
          });
        } else if (msg.type === 'stats') {
          const requests: Record<string, number> = {};
          let mediaBytes = 0;
          let throttled = 0;
          for (const r of sim?.requests ?? []) {
            requests[r.server] = (requests[r.server] ?? 0) + 1;
            if (r.status === 429) throttled++;
            if (r.server === 'bird-storage') mediaBytes += r.bytesSent;
          }
          send({ type: 'stats', id: msg.id, stats: { mediaBytes, requests, throttled } });
        } else if (msg.type === 'stop') {
          await sim?.stop();
          process.exit(0);
        }
      } catch (err) {
        send({ type: 'error', message: errorMessage(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module && process.argv.includes('--child')) void runChild();
