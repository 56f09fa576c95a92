import type { CallvaultConfig } from '../src/config/schema';
import type { ProvenanceStore } from '../src/provenance/store';
import type { Provider } from '../src/providers/types';
import type { ObjectStore } from '../src/storage/objectStore';

/** Everything the activities touch, handed in by the worker (and by tests, with real parts). */
export interface ActivityDeps {
  config: CallvaultConfig;
  store: ObjectStore;
  provenance: ProvenanceStore;
  /** The provider for a configured connection, credentials resolved; throws ConfigurationError for unknown names. */
  providerFor: (connection: string) => Provider;
  /**
   * Aborted when the worker is asked to stop: transfers finish the part (or small file) they are
   * on, checkpoint it, and hand the rest back (WorkerDraining) instead of starting more.
   */
  draining?: AbortSignal;
}
