import type { MetricCounter, MetricHistogram, MetricMeter } from '@temporalio/common';
import type { AtRiskWindow } from '../src/contracts/retentionSweep';
import type { ItemResult } from '../src/contracts/transfer';
import { DAY, MiB } from '../src/contracts/units';

/**
 * callvault's own metrics that activities record, on the meter of the activity context (the worker
 * exports it with the SDK's metrics; tags `namespace`, `task_queue` and `activity_type` are added
 * there). Names as created; Prometheus shows counters with `_total` (src/worker/metrics.ts lists
 * the exposed names, which the dashboard and the alert rules may use).
 */
export const ACTIVITY_METRICS = {
  files: {
    name: 'callvault_files',
    kind: 'counter',
    help: 'Files by the outcome of one transfer try: stored, already_stored, unavailable, not_ready, retry, gave_up',
  },
  bytes: {
    name: 'callvault_bytes',
    kind: 'counter',
    help: 'Bytes of transfer tries by outcome: stored = added to the store by the try, otherwise received by a try that did not store the file',
  },
  progressBytes: {
    name: 'callvault_progress_bytes',
    kind: 'counter',
    help: 'Bytes transfers move as they move (from the platform, or read back to hash a resumed file): progress within long files',
  },
  transferSeconds: { name: 'callvault_transfer_seconds', kind: 'histogram', help: 'Duration of one transfer try of one file, by outcome' },
  retries: {
    name: 'callvault_retries',
    kind: 'counter',
    help: 'Retries by cause: scope=file for a file try that will be tried again, scope=activity for an activity attempt that failed retryably',
  },
  daysAtRisk: {
    name: 'callvault_retention_days_at_risk',
    kind: 'gauge',
    help: 'Days the last retention sweep found at risk, per connection and reason',
  },
  sweepTime: {
    name: 'callvault_retention_sweep_timestamp_seconds',
    kind: 'gauge',
    help: 'When this worker last planned a retention sweep (unix seconds): the newest value holds',
  },
} as const;

/** Bucket bounds in seconds: a small file takes tens of milliseconds, a recording of hours some minutes. */
export const TRANSFER_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600, 1800];

/**
 * A bounded cause for a file's `retry` reason (its message names a URL, a status, a byte count:
 * not a label). Order matters: an expired link is a 403, a rate limit a 429.
 */
export function retryCause(reason: string): string {
  if (/signed link refused|expired/i.test(reason)) return 'expired_link';
  if (/\b429\b|rate limit/i.test(reason)) return 'rate_limited';
  if (/HTTP (5\d\d|408)\b/.test(reason)) return 'server_error';
  if (
    /short body|size mismatch|ended after|more than the .* bytes it announced|not read to its end|Content-Range|range not satisfiable/i.test(
      reason,
    )
  )
    return 'short_body';
  if (/ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|socket|reset|terminated|timeout|timed out|closed|aborted|body failed/i.test(reason))
    return 'connection';
  if (/malformed|unexpected response shape|not valid JSON|missing or malformed|redirects/i.test(reason)) return 'malformed_response';
  return 'other';
}

/** The instruments of one transfer activity attempt, tagged with its connection and provider. */
export class TransferMetrics {
  private readonly files: MetricCounter;
  private readonly bytes: MetricCounter;
  private readonly progress: MetricCounter;
  private readonly seconds: MetricHistogram;
  private readonly retries: MetricCounter;
  /** Progress bytes not yet added: one native call per MiB rather than per 64 KiB chunk. */
  private pending = 0;

  constructor(meter: MetricMeter, tags: { connection: string; provider: string }) {
    const m = meter.withTags(tags);
    this.files = m.createCounter(ACTIVITY_METRICS.files.name, '', ACTIVITY_METRICS.files.help);
    this.bytes = m.createCounter(ACTIVITY_METRICS.bytes.name, 'By', ACTIVITY_METRICS.bytes.help);
    this.progress = m.createCounter(ACTIVITY_METRICS.progressBytes.name, 'By', ACTIVITY_METRICS.progressBytes.help);
    this.seconds = m.createHistogram(ACTIVITY_METRICS.transferSeconds.name, 'float', 's', ACTIVITY_METRICS.transferSeconds.help);
    this.retries = m.createCounter(ACTIVITY_METRICS.retries.name, '', ACTIVITY_METRICS.retries.help);
  }

  moved(bytes: number): void {
    this.pending += bytes;
    if (this.pending >= MiB) this.flush();
  }

  flush(): void {
    if (this.pending > 0) this.progress.add(this.pending);
    this.pending = 0;
  }

  /** One file's try ended: `bytes` is what it added to the store (stored) or received in vain (the rest). */
  tried(result: Pick<ItemResult, 'outcome'> & { reason?: string }, seconds: number, bytes: number): void {
    this.flush();
    const outcome = { outcome: result.outcome };
    this.files.add(1, outcome);
    if (bytes > 0) this.bytes.add(bytes, outcome);
    this.seconds.record(seconds, outcome);
    if (result.outcome === 'retry') this.retries.add(1, { scope: 'file', cause: retryCause(result.reason ?? '') });
  }

  /** Files the export gave up on, counted when their rows are written. */
  gaveUp(count: number): void {
    if (count > 0) this.files.add(count, { outcome: 'gave_up' });
  }
}

/**
 * Days at risk per connection and reason, as gauges every connection the sweep covered sets (0
 * included, so a resolved risk clears), with the time of the sweep: several workers each keep the
 * value of the last sweep they planned, and the newest one holds (deploy/prometheus-alerts.yml).
 */
export function recordDaysAtRisk(meter: MetricMeter, connections: readonly string[], atRisk: readonly AtRiskWindow[], now: number): void {
  const gauge = meter.createGauge(ACTIVITY_METRICS.daysAtRisk.name, 'int', 'd', ACTIVITY_METRICS.daysAtRisk.help);
  const reasons = ['export_failed', 'deletion_started', 'deleted'] as const;
  for (const connection of connections) {
    for (const reason of reasons) {
      const days = atRisk
        .filter((w) => w.connection === connection && w.reasons.includes(reason))
        .reduce((sum, w) => sum + Math.max(1, Math.round((Date.parse(w.to) - Date.parse(w.from)) / DAY)), 0);
      gauge.set(days, { connection, reason });
    }
  }
  meter.createGauge(ACTIVITY_METRICS.sweepTime.name, 'int', 's', ACTIVITY_METRICS.sweepTime.help).set(Math.floor(now / 1000));
}
