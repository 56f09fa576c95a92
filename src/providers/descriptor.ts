import type { z } from 'zod';
import type { CredentialsRejectedError } from '../errors';
import type { ConnectionBase } from './connection';
import type { Provider, ProviderLimits } from './types';

/**
 * Everything callvault knows about one platform, in one object: a provider's folder exports one
 * (src/providers/<name>/index.ts), and the catalog lists them. The configuration's connection
 * schema and the registry are built from that list, so adding a platform is a folder and a line.
 */
export interface ProviderDescriptor<C extends ConnectionBase = ConnectionBase> {
  /** The `provider` of its connections in the configuration (`bird`), and the object keys' folder. */
  readonly name: string;
  /**
   * Its connections' settings (src/providers/connection.ts's `connectionSchema`): `provider` is
   * the literal `name`, which the configuration's union tells connections apart by.
   */
  readonly connectionSchema: z.core.$ZodTypeDiscriminable;
  /** The platform's published rate limits, which the connection's task queues are paced by (`rateLimit` overrides them). */
  readonly limits: ProviderLimits;
  /**
   * The provider of one connection, its secrets resolved from `env` (a missing one is a
   * ConfigurationError naming the field). Written as a method so that a descriptor of its own
   * connection type serves where the catalog's are listed.
   */
  create(conn: C, env: NodeJS.ProcessEnv): Provider;
  /**
   * The message an operator reads when the platform refuses the connection's credentials: the
   * refusal's own message (what was asked, the HTTP status) and what to fix, said once.
   */
  explainCredentialFailure(conn: C, err: CredentialsRejectedError): string;
}
