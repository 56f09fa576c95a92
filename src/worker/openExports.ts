import type { Client } from '@temporalio/client';
import type { MetricGauge } from '@temporalio/common';
import type { Logger } from '@temporalio/worker';
import { EXPORT_WORKFLOW_TYPE } from '../contracts/exportResult';
import { causeChain } from '../client/temporalConnection';

export interface OpenExportsOptions {
  client: Client;
  /** The deployment's task queue prefix: exports of other deployments on the same server are not ours. */
  taskQueue: string;
  connections: readonly string[];
  gauge: MetricGauge;
  intervalMs: number;
  log: Logger;
}

/**
 * Keeps `callvault_open_exports{connection}` current from Temporal's visibility: running export
 * workflows of this deployment, per connection (export ids start `export:<connection>:`). Counted
 * by the server, so it survives worker restarts and counts exports no worker is running; workers
 * that run workflows all report the same numbers (dashboards take the max). Returns the stop.
 */
export function sampleOpenExports(options: OpenExportsOptions): () => void {
  let busy = false;
  let warned = false;
  const sample = async (): Promise<void> => {
    for (const connection of options.connections) {
      const query = `WorkflowType = '${EXPORT_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND TaskQueue = '${options.taskQueue}' AND WorkflowId STARTS_WITH 'export:${connection}:'`;
      const { count } = await options.client.workflow.count(query);
      options.gauge.set(count, { connection });
    }
    warned = false;
  };
  const tick = (): void => {
    if (busy) return;
    busy = true;
    sample()
      .catch((err: unknown) => {
        // Temporal away: /readyz says so; the gauge keeps its last value.
        if (!warned) options.log.warn('could not count open exports', { error: causeChain(err) });
        warned = true;
      })
      .finally(() => (busy = false));
  };
  tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
