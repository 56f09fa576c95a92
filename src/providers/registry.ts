import type { ConnectionConfig } from '../config/schema';
import { resolveSecret } from '../config/secrets';
import { BirdProvider, birdLimits } from './bird';
import type { Provider, ProviderLimits } from './types';

/**
 * The one place that knows which providers exist. Secrets are resolved here, in the worker,
 * from the references in the connection's configuration.
 */
export function createProvider(conn: ConnectionConfig, env: NodeJS.ProcessEnv = process.env): Provider {
  switch (conn.provider) {
    case 'bird':
      return new BirdProvider(conn, resolveSecret(conn.accessKey, `connections.${conn.name}.accessKey`, env));
  }
}

export function providerLimits(conn: ConnectionConfig): ProviderLimits {
  const published = ((): ProviderLimits => {
    switch (conn.provider) {
      case 'bird':
        return birdLimits;
    }
  })();
  return {
    ...published,
    listRequestsPerSecond: conn.rateLimit.listPerSecond ?? published.listRequestsPerSecond,
    transferRequestsPerSecond: conn.rateLimit.transferPerSecond ?? published.transferRequestsPerSecond,
  };
}
