import type { ConnectionConfig } from '../config/schema';
import { resolveSecret } from '../config/secrets';
import { BirdProvider, birdLimits } from './bird';
import { KoreProvider, koreLimits } from './kore';
import { DixaProvider, dixaLimits } from './dixa';
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
