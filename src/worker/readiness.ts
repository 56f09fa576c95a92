import type { MetricGauge } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { causeChain } from '../client/temporalConnection';

/** How long /readyz waits for Temporal's answer: shorter than any probe's own timeout. */
const TEMPORAL_DEADLINE_MS = 2_000;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, string>;
}

type Phase =
  | { kind: 'starting'; waitingFor: string }
  | { kind: 'running'; connection: NativeConnection; workers: readonly Worker[] }
  | { kind: 'stopping' };

/**
 * Whether this worker can do work now. Ready means its workers run and Temporal answers a cheap
 * call on the worker's own connection (its address, TLS and API key) within two seconds. The
 * SDK's worker state alone says nothing: it stays RUNNING, pollers POLLING, while the server is
 * down. Not ready while starting (waiting for Postgres, the store or Temporal) and while stopping.
 */
export class Readiness {
  private phase: Phase = { kind: 'starting', waitingFor: 'the configuration' };

  starting(waitingFor: string): void {
    this.phase = { kind: 'starting', waitingFor };
  }

  running(connection: NativeConnection, workers: readonly Worker[]): void {
    this.phase = { kind: 'running', connection, workers };
  }

  stopping(): void {
    this.phase = { kind: 'stopping' };
  }

  async check(): Promise<ReadinessReport> {
    const phase = this.phase;
    if (phase.kind === 'starting') return { ready: false, checks: { worker: `starting: waiting for ${phase.waitingFor}` } };
    if (phase.kind === 'stopping') return { ready: false, checks: { worker: 'stopping: finishing the parts in flight' } };
    const states = phase.workers.map((w) => w.getState());
    const workersOk = states.every((s) => s === 'RUNNING');
    const checks: Record<string, string> = { worker: workersOk ? 'running' : `workers ${[...new Set(states)].join(', ')}` };
    let temporalOk = false;
    try {
      const info = await phase.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () =>
        phase.connection.workflowService.getSystemInfo({}),
      );
      checks.temporal = `ok (server ${info.serverVersion || 'unknown version'})`;
      temporalOk = true;
    } catch (err) {
      checks.temporal = `unreachable: ${causeChain(err)}`;
    }
    return { ready: workersOk && temporalOk, checks };
  }

  /** Keeps a 0/1 gauge of readiness, so an alert can see a worker that is not ready. Returns the stop. */
  watch(gauge: MetricGauge, intervalMs: number): () => void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.check()
        .then((r) => gauge.set(r.ready ? 1 : 0))
        .finally(() => (busy = false));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
