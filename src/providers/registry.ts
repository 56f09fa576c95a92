import type { ConnectionConfig } from '../config/schema';
import { resolveSecret } from '../secrets';
import { BirdProvider, birdLimits } from './bird/provider';
import { KoreProvider, koreLimits } from './kore/provider';
import { DixaProvider, dixaLimits } from './dixa/provider';
import type { Provider, ProviderLimits } from './types';

/**
 * The one place that knows which providers exist. Secrets are resolved here, in the worker,
 * from the references in the connection's configuration.
 */
export function createProvider(conn: ConnectionConfig, env: NodeJS.ProcessEnv = process.env): Provider {
  switch (conn.provider) {
    case 'bird':
      return new BirdProvider(conn, resolveSecret(conn.accessKey, `connections.${conn.name}.accessKey`, env));
    case 'kore':
      return new KoreProvider(conn, {
        clientId: resolveSecret(conn.clientId, `connections.${conn.name}.clientId`, env),
        clientSecret: resolveSecret(conn.clientSecret, `connections.${conn.name}.clientSecret`, env),
      });
    case 'dixa':
      return new DixaProvider(conn, resolveSecret(conn.apiToken, `connections.${conn.name}.apiToken`, env));
  }
}

export function providerLimits(conn: ConnectionConfig): ProviderLimits {
  const published = ((): ProviderLimits => {
    switch (conn.provider) {
      case 'bird':
        return birdLimits;
      case 'kore':
        return koreLimits;
      case 'dixa':
        return dixaLimits;
    }
  })();
  return {
    ...published,
    listRequestsPerSecond: conn.rateLimit.listPerSecond ?? published.listRequestsPerSecond,
    transferRequestsPerSecond: conn.rateLimit.transferPerSecond ?? published.transferRequestsPerSecond,
  };
}

/** Bounds of the batch size chosen when a connection sets none. */
const AUTO_BATCH = { min: 16, max: 64 };
/** Transfer activities a second the queue must still be able to start with automatic batches. */
const MIN_TRANSFER_STARTS_PER_SECOND = 1.25;

/**
 * Files per transfer activity: the connection's `batchSize`, or one that follows its rate limit.
 *
 * Larger batches amortise Temporal's round trips: 64 small files per activity instead of 16 took
 * half off Temporal's CPU per file in the bench. But the transfer queue's rate limit counts
 * activities (it is the only limit Temporal enforces across workers), so it is derived assuming
 * full batches, while a short queue is spread over the free slots in smaller ones: under a tight
 * limit, 64 would let ten small daily exports of one-file batches start 0.3 activities a second.
 * So a batch grows past 16 only as far as the queue can still start 1.25 activities a second:
 * Bird's published 40 requests/s keeps 16; a raised quota (or a self-hosted source) gets 64.
 */
export function transferBatchSize(conn: ConnectionConfig): number {
  if (conn.batchSize !== undefined) return conn.batchSize;
  const limits = providerLimits(conn);
  const filesPerSecond = limits.transferRequestsPerSecond / limits.requestsPerFile;
  return Math.min(AUTO_BATCH.max, Math.max(AUTO_BATCH.min, Math.floor(filesPerSecond / MIN_TRANSFER_STARTS_PER_SECOND)));
}

/** Transfer activities a second the connection's queue may start: full batches at the rate limit. */
export function transferActivitiesPerSecond(conn: ConnectionConfig): number {
  const limits = providerLimits(conn);
  return limits.transferRequestsPerSecond / (limits.requestsPerFile * transferBatchSize(conn));
}
