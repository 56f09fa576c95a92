import { bird } from './bird';
import { dixa } from './dixa';
import { kore } from './kore';
import type { ConnectionBase } from './connection';
import type { ProviderDescriptor } from './descriptor';

/**
 * The platforms callvault ships: the configuration's connection schema and the registry are built
 * from this list, so a new platform is its folder (src/providers/<name>/) and one line here.
 */
export const PROVIDERS = [bird, dixa, kore] as const;

/** The configured connection of any provider of `catalog` (default: the shipped ones). */
export type ConnectionOfCatalog<Catalog extends readonly ProviderDescriptor[]> = Catalog[number] extends infer D
  ? D extends ProviderDescriptor<infer C>
    ? C
    : never
  : never;

/** A connection of a shipped provider, as the configuration holds it. */
export type ShippedConnection = ConnectionOfCatalog<typeof PROVIDERS> & ConnectionBase;
