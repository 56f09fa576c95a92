import type { ActivityDeps } from '../../activities';
import { connectionByName } from '../config/load';
import type { CallvaultConfig } from '../config/schema';
import { ProvenanceStore } from '../provenance/store';
import { createProvider } from '../providers/registry';
import type { Provider } from '../providers/types';
import { ObjectStore } from '../storage/objectStore';

export interface WorkerDeps extends ActivityDeps {
  close(): Promise<void>;
}

/**
 * Builds the activities' dependencies from configuration: one S3 client, one Postgres pool, and
 * a provider per connection, created on first use so that a connection with a missing secret
 * only fails the exports that use it (with a message naming the secret).
 */
export function buildDeps(
  config: CallvaultConfig,
  env: NodeJS.ProcessEnv = process.env,
  options: { draining?: AbortSignal; warn?: (message: string) => void } = {},
): WorkerDeps {
  const store = ObjectStore.for(config.storage, env);
  const provenance = ProvenanceStore.connect(config.database.url, config.worker.transferConcurrency + config.worker.listConcurrency + 2, {
    warn: options.warn,
  });
  const providers = new Map<string, Provider>();
  return {
    config,
    store,
    provenance,
    ...(options.draining ? { draining: options.draining } : {}),
    providerFor(name: string): Provider {
      let provider = providers.get(name);
      if (!provider) {
        provider = createProvider(connectionByName(config, name), env);
        providers.set(name, provider);
      }
      return provider;
    },
    async close() {
      await Promise.allSettled([...providers.values()].map((p) => p.close()));
      await provenance.close();
      await store.close();
    },
  };
}
