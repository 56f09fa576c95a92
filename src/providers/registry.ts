import { CredentialsRejectedError } from '../errors';
import { PROVIDERS } from './catalog';
import type { ConnectionBase } from './connection';
import type { ProviderDescriptor } from './descriptor';
import type { Provider, ProviderLimits } from './types';

/**
 * The one place that knows which providers exist: it looks a connection's provider up in the
 * catalog (src/providers/catalog.ts; tests pass one with a fixture of their own). Secrets are
 * resolved here, in the worker, from the references in the connection's configuration.
 */
export function descriptorOf(
  conn: Pick<ConnectionBase, 'provider' | 'name'>,
  catalog: readonly ProviderDescriptor[] = PROVIDERS,
): ProviderDescriptor {
  const found = catalog.find((d) => d.name === conn.provider);
  if (!found)
    throw new Error(`connection '${conn.name}': no provider '${conn.provider}' (known: ${catalog.map((d) => d.name).join(', ')})`);
  return found;
}

/**
 * The provider of a connection. A refusal of its credentials reaches the caller explained once,
 * by the provider's descriptor: what was refused and what to fix.
 */
export function createProvider(
  conn: ConnectionBase,
  env: NodeJS.ProcessEnv = process.env,
  catalog: readonly ProviderDescriptor[] = PROVIDERS,
): Provider {
  const descriptor = descriptorOf(conn, catalog);
  return explained(descriptor.create(conn, env), (err) => descriptor.explainCredentialFailure(conn, err));
}

/** `provider`, whose CredentialsRejectedErrors carry `explain`'s message. */
function explained(provider: Provider, explain: (err: CredentialsRejectedError) => string): Provider {
  const rethrow = (err: unknown): never => {
    throw err instanceof CredentialsRejectedError ? new CredentialsRejectedError(explain(err), err.about) : err;
  };
  const revealedBy = provider.revealedBy?.bind(provider);
  return {
    providerName: provider.providerName,
    listPage: (window, cursor, options) => provider.listPage(window, cursor, options).catch(rethrow),
    openDownload: (item, options) => provider.openDownload(item, options).catch(rethrow),
    ...(revealedBy
      ? { revealedBy: (item: Parameters<typeof revealedBy>[0], signal?: AbortSignal) => revealedBy(item, signal).catch(rethrow) }
      : {}),
    close: () => provider.close(),
  };
}

export function providerLimits(conn: ConnectionBase, catalog: readonly ProviderDescriptor[] = PROVIDERS): ProviderLimits {
  const published = descriptorOf(conn, catalog).limits;
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
 * Bird's pace of 40 files/s gets 32; a raised quota (or a self-hosted source) gets 64.
 */
export function transferBatchSize(conn: ConnectionBase, catalog: readonly ProviderDescriptor[] = PROVIDERS): number {
  if (conn.batchSize !== undefined) return conn.batchSize;
  const limits = providerLimits(conn, catalog);
  const filesPerSecond = limits.transferRequestsPerSecond / limits.requestsPerFile;
  return Math.min(AUTO_BATCH.max, Math.max(AUTO_BATCH.min, Math.floor(filesPerSecond / MIN_TRANSFER_STARTS_PER_SECOND)));
}

/** Transfer activities a second the connection's queue may start: full batches at the rate limit. */
export function transferActivitiesPerSecond(conn: ConnectionBase, catalog: readonly ProviderDescriptor[] = PROVIDERS): number {
  const limits = providerLimits(conn, catalog);
  return limits.transferRequestsPerSecond / (limits.requestsPerFile * transferBatchSize(conn, catalog));
}

/**
 * Below this many transfer activity starts a second, the queue's rate limit binds before the
 * workers do: eight slots on 64-file batches of small files start 4-6 activities a second in the
 * bench with the limit lifted.
 */
const SCARCE_STARTS_PER_SECOND = 10;

/** Whether the connection's transfer queue is paced tightly enough that each start should carry a full batch. */
export function transferStartsAreScarce(conn: ConnectionBase, catalog: readonly ProviderDescriptor[] = PROVIDERS): boolean {
  return transferActivitiesPerSecond(conn, catalog) < SCARCE_STARTS_PER_SECOND;
}
