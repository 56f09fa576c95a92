import { ApplicationFailure, CancelledFailure, type MetricTags } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { ACTIVITY_METRICS } from '../../activities/metrics';
import type { CallvaultConfig } from '../config/schema';
import { CONNECTION_NAME } from '../contracts/names';

/**
 * What every activity's logs and metrics carry besides the SDK's own: the connection it works for
 * (from its input), Prometheus-style tag names (the SDK's activity meter says `taskQueue` and
 * `activityType` where its own metrics say `task_queue` and `activity_type`), and a count of the
 * attempts that failed retryably, by cause.
 */
export function observingActivities(config: CallvaultConfig): ActivityInterceptorsFactory {
  return (ctx) => {
    let connection: string | undefined;
    return {
      inbound: {
        async execute(input, next) {
          connection = connectionOf(input.args[0], config);
          try {
            return await next(input);
          } catch (err) {
            const cause = retryCause(err);
            if (cause) {
              const tags: MetricTags = connection ? { connection, provider: config.connections[connection]!.provider } : {};
              ctx.metricMeter
                .createCounter(ACTIVITY_METRICS.retries.name, '', ACTIVITY_METRICS.retries.help)
                .add(1, { ...tags, scope: 'activity', cause });
            }
            throw err;
          }
        },
      },
      outbound: {
        getLogAttributes: (attributes, next) => next(connection ? { ...attributes, connection } : attributes),
        getMetricTags: (tags, next) => next(snakeCased(tags)),
      },
    };
  };
}

/** The configured connection an activity input names, if any (listPage, transferBatch, recordFailures, describeConnection, ...). */
function connectionOf(arg: unknown, config: CallvaultConfig): string | undefined {
  const name = typeof arg === 'object' && arg !== null ? (arg as { connection?: unknown }).connection : undefined;
  return typeof name === 'string' && CONNECTION_NAME.test(name) && Object.hasOwn(config.connections, name) ? name : undefined;
}

/**
 * `taskQueue` as `task_queue`, `activityType` as `activity_type`. The worker's meter adds its own
 * `taskQueue` too; an undefined value here overrides it, and the SDK drops undefined tags.
 */
export function snakeCased(tags: MetricTags): MetricTags {
  const out: Record<string, MetricTags[string] | undefined> = {};
  for (const [key, value] of Object.entries(tags)) {
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (snake !== key) out[key] = undefined;
    out[snake] = value;
  }
  return out as MetricTags;
}

/**
 * Why an attempt failed, as a bounded label, when Temporal may try it again; undefined for
 * cancellations and for failures no retry can fix (those show in temporal_activity_execution_failed).
 */
export function retryCause(err: unknown): string | undefined {
  if (err instanceof CancelledFailure) return undefined;
  if (err instanceof ApplicationFailure) {
    if (err.nonRetryable) return undefined;
    return err.type
      ? err.type
          .replace(/Error$/, '')
          .replace(/(?<=[a-z])([A-Z])/g, '_$1')
          .toLowerCase()
      : 'application';
  }
  const e = err as { $metadata?: unknown; code?: unknown; name?: unknown } | null;
  if (e && typeof e === 'object' && e.$metadata !== undefined) return 'object_store';
  if (e && typeof e.code === 'string' && /^(08|57|53|40)/.test(e.code)) return 'database';
  if (e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return 'network';
  return 'unexpected';
}
