import { z } from 'zod';
import { CONNECTION_NAME, CONNECTION_NAME_HINT, TASK_QUEUE, TASK_QUEUE_HINT } from '../contracts/names';
import { serviceUrlProblem } from '../http/hosts';
import { PROVIDERS, type ShippedConnection } from '../providers/catalog';
import { urlSchema } from '../providers/connection';
import type { ProviderDescriptor } from '../providers/descriptor';
import { SECRET_REF_HINT, secretRefSchema } from '../secrets';

/** Connection names end up in task queue names, object keys and workflow ids: keep them tame. */
export const connectionNameSchema = z.string().regex(CONNECTION_NAME, CONNECTION_NAME_HINT);

/**
 * A connection of any provider of `catalog`: the union of their connection schemas, told apart by
 * `provider` (a provider's folder defines its own, src/providers/<name>/connection.ts).
 */
export function connectionSchemaFor(catalog: readonly ProviderDescriptor[]) {
  const [first, ...rest] = catalog.map((d) => d.connectionSchema);
  if (!first) throw new Error('a provider catalog lists at least one provider');
  return z.discriminatedUnion('provider', [first, ...rest]);
}

/** A configured connection of a shipped provider (src/providers/catalog.ts), with its name. */
export type ConnectionConfig = ShippedConnection;

/** `host:port` of the Temporal frontend: a name, an IPv4 address or a bracketed IPv6 address. */
const TEMPORAL_ADDRESS = /^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\]):(\d{1,5})$/;

export function isTemporalAddress(value: string): boolean {
  const port = Number(TEMPORAL_ADDRESS.exec(value)?.[1] ?? 0);
  return port >= 1 && port <= 65535;
}

export const TEMPORAL_ADDRESS_HINT = 'expected host:port, such as 127.0.0.1:7233 or temporal.internal:7233 (no scheme, port 1-65535)';
const temporalAddressSchema = z.string().refine(isTemporalAddress, TEMPORAL_ADDRESS_HINT);

export const TEMPORAL_NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** A listener's `host:port` (the worker's metrics and health endpoint): an IP or a name, and a port. */
export const listenAddressSchema = z
  .string()
  .refine(isTemporalAddress, 'expected host:port to listen on, such as 0.0.0.0:9464 or 127.0.0.1:9464');

const absolutePath = z
  .string()
  .regex(/^\/[^\u0000-\u001f\u007f]{0,4095}$/, 'expected an absolute path (starting with /) without control characters');

/**
 * TLS towards Temporal: `true` for TLS with the system's trusted roots, `false` for plaintext even
 * with an API key, or the files. The client key is a secret reference like every other secret;
 * certificates are public and are named by path.
 */
const temporalTlsFilesSchema = z
  .object({
    serverCaCertPath: absolutePath.optional(),
    serverName: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/, 'a DNS name the server certificate carries')
      .optional(),
    clientCertPath: absolutePath.optional(),
    clientKey: secretRefSchema.optional(),
  })
  .strict();

/** A union would say only "Invalid input"; this keeps the inner field's own message. */
const temporalTlsSchema = z.unknown().transform((raw, ctx): boolean | z.infer<typeof temporalTlsFilesSchema> => {
  if (typeof raw === 'boolean') return raw;
  const parsed = temporalTlsFilesSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: undefined });
  return z.NEVER;
});

/**
 * Why a Postgres URL cannot be used, or undefined. A password never sits in the configuration file:
 * it comes from the worker's environment (PGPASSWORD, ~/.pgpass, or the whole URL in DATABASE_URL),
 * as for every Postgres client, so `allowPassword` is only for the URL taken from DATABASE_URL.
 */
export function databaseUrlProblem(raw: unknown, allowPassword: boolean): string | undefined {
  if (typeof raw !== 'string' || raw.length > 2048 || /[\s\u0000-\u001f\u007f]/.test(raw))
    return 'expected a postgres:// URL without spaces or control characters';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'expected a URL such as postgres://callvault@db.internal:5432/callvault';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    return `expected a postgres:// or postgresql:// URL, got ${url.protocol}`;
  if (!allowPassword && (url.password || url.searchParams.has('password'))) {
    return 'a password in the URL is refused; give it to the worker as PGPASSWORD or in ~/.pgpass (or pass the whole URL in the DATABASE_URL environment variable)';
  }
  return undefined;
}

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/callvault';

/** Object key prefix: `/`-separated segments of safe characters, none empty, none starting with a dot (no `..`). */
const PREFIX = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}){0,9}$/;

/**
 * `connections` as a record of named connections. Names are checked here, on the raw keys: JSON
 * may hold a key `__proto__`, which zod's record would drop without a word.
 */
const connectionsSchema = z.preprocess(
  (raw, ctx) => {
    if (typeof raw !== 'object' || raw === null) return raw;
    for (const name of Object.keys(raw)) {
      if (!CONNECTION_NAME.test(name)) ctx.issues.push({ code: 'custom', message: CONNECTION_NAME_HINT, path: [name], input: undefined });
    }
    return raw;
  },
  z.record(z.string(), connectionSchemaFor(PROVIDERS)),
);

/** A URL of the deployment's own (the S3 store, a trace collector): private addresses are fine, credentials are not. */
function deploymentUrlSchema(secretHint: string) {
  return urlSchema.superRefine((v, ctx) => {
    const problem = serviceUrlProblem(v, { allowPrivateNetwork: true, secretHint });
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

export const configSchema = z
  .object({
    temporal: z
      .object({
        address: temporalAddressSchema.default('127.0.0.1:7233'),
        namespace: z
          .string()
          .regex(TEMPORAL_NAMESPACE, 'a Temporal namespace: letters, digits, dots, dashes and underscores')
          .default('default'),
        /** Prefix of every task queue; workflows and bookkeeping run on the prefix itself. */
        taskQueue: z.string().regex(TASK_QUEUE, TASK_QUEUE_HINT).default('callvault'),
        /** Fallbacks for what TEMPORAL_* variables and a Temporal profile do not say (src/client/temporalConnection.ts). */
        apiKey: secretRefSchema.optional(),
        tls: temporalTlsSchema.optional(),
      })
      .strict()
      .default({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'callvault' }),
    storage: z
      .object({
        /** The S3 endpoint: the deployment's own store, so a private address needs no allowance (link-local and metadata are refused). */
        endpoint: deploymentUrlSchema(`S3 keys go in storage.accessKeyId and storage.secretAccessKey: ${SECRET_REF_HINT}`).optional(),
        region: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,49}$/, 'an S3 region such as us-east-1')
          .default('us-east-1'),
        bucket: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)')
          .refine(
            (b) => !b.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(b),
            'an S3 bucket name has no two dots in a row and is not an IP address',
          ),
        prefix: z
          .string()
          .regex(
            PREFIX,
            'segments of letters, digits, dots, dashes and underscores separated by single slashes; none empty, none starting with a dot (no ../), no leading or trailing slash',
          )
          .default('callvault'),
        forcePathStyle: z.boolean().default(true),
        accessKeyId: secretRefSchema.optional(),
        secretAccessKey: secretRefSchema.optional(),
        /** Part size for multipart uploads; grown automatically for files that would need >10,000 parts. */
        partSizeMiB: z.number().int().min(5).max(512).default(8),
        /**
         * A CRC32 the store checks on receipt: in the header of every PutObject, and as the whole
         * object's checksum on CompleteMultipartUpload (README.md, "Archive policy"). Off only for a
         * store that refuses x-amz-checksum-* headers.
         */
        checksums: z.boolean().default(true),
      })
      .strict(),
    worker: z
      .object({
        /** Transfers one worker process runs at once; each holds at most one part in memory. */
        transferConcurrency: z.number().int().min(1).max(256).default(8),
        /** Listing calls one worker process runs at once. */
        listConcurrency: z.number().int().min(1).max(64).default(4),
        /**
         * Seconds a stopping worker gives running transfers to finish the part (or small file) they
         * are on before it cancels them; what is left resumes on another worker.
         */
        shutdownGraceSeconds: z.number().int().min(1).max(3600).default(20),
        /** Prometheus metrics, /healthz and /readyz on one listener; off unless an address is set. */
        metrics: z.object({ address: listenAddressSchema }).strict().optional(),
        /** OpenTelemetry traces to an OTLP/HTTP collector (base URL, as OTEL_EXPORTER_OTLP_ENDPOINT); off unless set. */
        tracing: z
          .object({ otlpEndpoint: deploymentUrlSchema('a collector that needs a token takes it from OTEL_EXPORTER_OTLP_HEADERS') })
          .strict()
          .optional(),
      })
      .strict()
      .default({ transferConcurrency: 8, listConcurrency: 4, shutdownGraceSeconds: 20 }),
    database: z
      .object({
        url: z
          .string()
          .superRefine((v, ctx) => {
            const problem = databaseUrlProblem(v, false);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .default(DEFAULT_DATABASE_URL),
      })
      .strict()
      .default({ url: DEFAULT_DATABASE_URL }),
    connections: connectionsSchema,
  })
  .strict();

export type CallvaultConfig = Omit<z.infer<typeof configSchema>, 'connections'> & {
  connections: Record<string, ConnectionConfig>;
};
