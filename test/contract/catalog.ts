import { PROVIDERS } from '../../src/providers/catalog';
import { echo } from './echo';

/**
 * The catalog the contract suite builds connections and providers from: the shipped providers and
 * `echo`, a fourth platform that exists only here. Its folder and this line are all it took: the
 * configuration's connection union and the registry take a catalog (connectionSchemaFor,
 * createProvider), so nothing under src/ names it, and it never ships.
 */
export const TEST_PROVIDERS = [...PROVIDERS, echo] as const;
