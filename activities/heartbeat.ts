import type { Context } from '@temporalio/activity';
import type { TransferCheckpoint } from '../src/transfer/transferFile';

/** How often a transfer says it is alive between checkpoints: often enough for any heartbeat timeout. */
const LIVENESS_INTERVAL_MS = 1_000;

export interface LivenessHeartbeat {
  /** "Still alive" (bytes flowing, a file done): sent at most once a second. */
  beat(details: unknown): void;
  /** A stored part: always sent, the next attempt resumes from it. */
  checkpoint(details: TransferCheckpoint): void;
}

/**
 * Heartbeats for one transfer activity. Checkpoints always go out; liveness heartbeats at most
 * once per second (a quarter of the heartbeat timeout if that is shorter), and not at all in an
 * activity that finishes sooner: each one costs the worker a payload encoding and the server a
 * write, and a batch of small files used to send one per 64 KiB chunk and per file.
 */
export function livenessHeartbeat(ctx: Context): LivenessHeartbeat {
  const interval = Math.min(LIVENESS_INTERVAL_MS, (ctx.info.heartbeatTimeoutMs || Infinity) / 4);
  let last = Date.now();
  return {
    beat(details) {
      const now = Date.now();
      if (now - last < interval) return;
      last = now;
      ctx.heartbeat(details);
    },
    checkpoint(details) {
      last = Date.now();
      ctx.heartbeat(details);
    },
  };
}
