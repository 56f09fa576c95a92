import { z } from 'zod';
import { hostPatternProblem, serviceUrlProblem } from '../http/hosts';
import { SECRET_REF_HINT } from '../secrets';
import { archivePolicySchema } from './archive';

/**
 * What every provider's connection is made of: the settings all connections share, the network
 * rules every URL and host allow-list of a connection obeys, and the schema builder each provider's
 * folder uses for its own settings (src/providers/<name>/connection.ts).
 */

export const hostPatternSchema = z
  .string()
  .max(300)
  .regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/i, 'a host name, optionally with :port, optionally starting with *.');

/** A URL string; where it may point is checked per connection (`networkRules`), which knows `allowPrivateNetwork`. */
export const urlSchema = z.string().max(2048);

/**
 * The network rules of a connection: its URLs are http(s) without credentials or query, and they
 * and its host allow-lists point at the public internet, never at link-local or metadata addresses,
 * and at loopback or private networks only when the connection sets `allowPrivateNetwork`.
 */
function networkRules(urlFields: readonly string[], hostFields: readonly string[], secretField: string) {
  const secretHint = `the connection's secret goes in ${secretField}: ${SECRET_REF_HINT}`;
  return (conn: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const allowPrivateNetwork = conn.allowPrivateNetwork === true;
    for (const key of urlFields) {
      const problem = serviceUrlProblem(conn[key], { allowPrivateNetwork, secretHint });
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
    }
    for (const key of hostFields) {
      (conn[key] as string[]).forEach((pattern, i) => {
        const problem = hostPatternProblem(pattern, allowPrivateNetwork);
        if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key, i] });
      });
    }
  };
}

/** Settings every connection has, whatever its provider. */
const connectionCommon = {
  /**
   * Lets the connection's URLs and host allow-lists point at loopback and private networks
   * (simulators, an on-premises platform). Off, only public hosts are reached. Link-local and
   * cloud-metadata addresses are refused either way.
   */
  allowPrivateNetwork: z.boolean().default(false),
  /**
   * Files per transfer activity. Unset, it follows the rate limit (`transferBatchSize`): as large
   * as 64 while the transfer queue can still start a batch every 0.8 s, 16 under a tight limit.
   */
  batchSize: z.number().int().min(1).max(256).optional(),
  /** How long to wait before looking again at a file the platform says is not ready yet. */
  notReadyRetrySeconds: z.number().int().min(1).max(86_400).default(60),
  /** Override the provider's published rate limits (requests per second), e.g. for a raised quota. */
  rateLimit: z
    .object({
      listPerSecond: z.number().min(0.001).max(1_000_000).optional(),
      transferPerSecond: z.number().min(0.001).max(1_000_000).optional(),
    })
    .strict()
    .default({}),
  /**
   * How long the platform keeps this connection's data, and how many days before it deletes a day
   * the retention sweep exports it (README.md, "Retention policies"). Without it, the sweep skips the connection.
   */
  retention: z
    .object({
      keepDays: z.number().int().min(1).max(36_500),
      /** At most a year: the sweep starts one export per due day, so a lead of a year is 366 exports at once. */
      leadDays: z.number().int().min(0).max(366).default(3),
    })
    .strict()
    .refine((r) => r.leadDays < r.keepDays, { message: 'must be smaller than keepDays', path: ['leadDays'] })
    .optional(),
  /** How objects are written: Object Lock, legal hold, encryption, storage class, tags (`./archive.ts`). */
  archive: archivePolicySchema.optional(),
};

/** Where a connection's URLs and host allow-lists are, and which field holds its secret, for the network rules. */
export interface NetworkFields {
  urls: readonly string[];
  hosts: readonly string[];
  /** The field (or fields) a secret goes in, named when a URL carries one. */
  secret: string;
}

/**
 * One provider's connection settings: `provider` names it, then its own fields, then the settings
 * every connection has; strict (an unknown field is refused), and checked by the network rules.
 */
export function connectionSchema<P extends string, F extends z.ZodRawShape>(provider: P, fields: F, network: NetworkFields) {
  return z
    .object({ provider: z.literal(provider), ...fields, ...connectionCommon })
    .strict()
    .superRefine(networkRules(network.urls, network.hosts, network.secret));
}

/** A configured connection as every provider knows it: its name, its provider and the common settings. */
export type ConnectionBase = z.infer<z.ZodObject<typeof connectionCommon>> & { provider: string; name: string };

/** The configured connection a provider's schema describes, with its name (the key it is configured under). */
export type ConnectionOf<S extends z.ZodType> = z.infer<S> & { name: string };
