import { ACTIVITY_METRICS } from '../../activities/metrics';

/** callvault's metrics the worker process itself keeps (the activities' are in activities/metrics.ts). */
export const WORKER_METRICS = {
  openExports: {
    name: 'callvault_open_exports',
    kind: 'gauge',
    help: 'Export workflows running now, per connection, as Temporal counts them',
  },
  ready: {
    name: 'callvault_worker_ready',
    kind: 'gauge',
    help: '1 while this worker can work (its workers run and Temporal answers), else 0: /readyz as a metric',
  },
} as const;

type Definition = { name: string; kind: 'counter' | 'gauge' | 'histogram' };

/** The name Prometheus shows for a metric created as `name` (counters get `_total`: src/worker/telemetry.ts). */
export function exposedName(metric: Definition): string {
  return metric.kind === 'counter' ? `${metric.name}_total` : metric.name;
}

/** Every callvault metric as a scrape shows it (histograms add _bucket, _sum and _count). */
export const CALLVAULT_METRIC_NAMES: readonly string[] = [...Object.values(ACTIVITY_METRICS), ...Object.values(WORKER_METRICS)].map(
  exposedName,
);

/**
 * The SDK's metrics that deploy/ (the dashboard, the alert rules) uses. The SDK makes many more;
 * these are the ones callvault depends on, and test/integration/observability.test.ts checks a
 * running worker's scrape shows each of them.
 */
export const SDK_METRIC_NAMES: readonly string[] = [
  'temporal_activity_execution_failed_total',
  'temporal_activity_execution_latency',
  'temporal_activity_schedule_to_start_latency',
  'temporal_workflow_task_schedule_to_start_latency',
  'temporal_worker_task_slots_available',
  'temporal_long_request_failure_total',
  'temporal_request_failure_total',
  'temporal_workflow_completed_total',
];

/** What deploy/ may name: callvault's metrics, the SDK's that callvault depends on, and Prometheus's own `up`. */
export const KNOWN_METRIC_NAMES: readonly string[] = [...CALLVAULT_METRIC_NAMES, ...SDK_METRIC_NAMES, 'up'];
