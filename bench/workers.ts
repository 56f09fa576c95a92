import { WorkerProcess, type WorkerProcessOptions } from '../src/devstack/worker';

export interface BenchWorker {
  worker: WorkerProcess;
  /** VmHWM when the worker said it was polling: what starting up cost, before any work. */
  readyRss: number;
}

/**
 * Starts a worker exactly as the tests and `callvault worker` do. `extraNodeFlags` is only for the
 * diagnostic pass (--cpu-prof, the request counter); timed runs pass none.
 */
export async function spawnWorker(options: WorkerProcessOptions): Promise<BenchWorker> {
  const worker = await WorkerProcess.start(options);
  return { worker, readyRss: worker.peakRssBytes() };
}
