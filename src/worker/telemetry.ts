import { createServer } from 'node:net';
import { Runtime, type Logger } from '@temporalio/worker';
import { ACTIVITY_METRICS, TRANSFER_SECONDS_BUCKETS } from '../../activities/metrics';

/** Tries at an internal port: another process may take the one we found free before the core binds it. */
const PORT_TRIES = 5;

export interface RuntimeTelemetry {
  /** The SDK core's Prometheus exporter, on loopback only; the ops server re-serves it. Null: no metrics. */
  coreMetricsUrl: string | null;
}

/**
 * Installs Temporal's runtime once per worker process, before any connection: our logger for the
 * SDK's and the core's logs, and, when the worker serves metrics, the core's Prometheus exporter
 * on an internal loopback port (callvault's own metrics go through the same meter, so one scrape
 * holds both). Counters get `_total` and durations are in seconds, as Prometheus names them.
 * Signals are ours to handle (src/worker/shutdown.ts), so the runtime listens to none.
 */
export async function installRuntime(options: { logger: Logger; metrics: boolean }): Promise<RuntimeTelemetry> {
  const logging = { filter: { core: 'WARN' as const, other: 'ERROR' as const }, forward: {} };
  if (!options.metrics) {
    Runtime.install({ logger: options.logger, shutdownSignals: [], telemetryOptions: { logging } });
    return { coreMetricsUrl: null };
  }
  for (let attempt = 1; ; attempt++) {
    const bindAddress = `127.0.0.1:${await freeLoopbackPort()}`;
    try {
      Runtime.install({
        logger: options.logger,
        shutdownSignals: [],
        telemetryOptions: {
          logging,
          metrics: {
            prometheus: {
              bindAddress,
              countersTotalSuffix: true,
              useSecondsForDurations: true,
              histogramBucketOverrides: { [ACTIVITY_METRICS.transferSeconds.name]: TRANSFER_SECONDS_BUCKETS },
            },
          },
        },
      });
      return { coreMetricsUrl: `http://${bindAddress}/metrics` };
    } catch (err) {
      if (attempt >= PORT_TRIES || !/address already in use/i.test((err as Error).message)) throw err;
    }
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
