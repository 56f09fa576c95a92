import { z } from 'zod';
import { hostPatternProblem, serviceUrlProblem } from '../http/hosts';
import { CONNECTION_NAME, CONNECTION_NAME_HINT, TASK_QUEUE, TASK_QUEUE_HINT } from '../contracts/names';
import { SECRET_REF_HINT, secretRefSchema } from '../secrets';

/** Connection names end up in task queue names, object keys and workflow ids: keep them tame. */
export const connectionNameSchema = z.string().regex(CONNECTION_NAME, CONNECTION_NAME_HINT);

const hostPatternSchema = z
  .string()
  .max(300)
  .regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/i, 'a host name, optionally with :port, optionally starting with *.');

/** A URL string; where it may point is checked per connection (`networkRules`), which knows `allowPrivateNetwork`. */
const urlSchema = z.string().max(2048);

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
};

export const birdConnectionSchema = z
  .object({
    provider: z.literal('bird'),
    baseUrl: urlSchema.default('https://api.bird.com'),
    workspaceId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'a Bird workspace id such as 2f0c2a1e-...'),
    accessKey: secretRefSchema,
    /** Hosts the media redirect may lead to. Credentials are never sent to them either way. */
    mediaHosts: z.array(hostPatternSchema).min(1).max(100).default(['*.amazonaws.com']),
    /** Recordings per List Recordings call (the API allows 1-99). */
    pageSize: z.number().int().min(1).max(99).default(99),
    ...connectionCommon,
  })
  .strict()
  .superRefine(networkRules(['baseUrl'], ['mediaHosts'], 'accessKey'));

export const dixaConnectionSchema = z
  .object({
    provider: z.literal('dixa'),
    exportsBaseUrl: urlSchema.default('https://exports.dixa.io'),
    apiBaseUrl: urlSchema.default('https://dev.dixa.io'),
    /** The only origin file links may point at; relative links are paths on it. */
    filesBaseUrl: urlSchema.default('https://files.dixa.io'),
    /** One Dixa API token serves the exports API, the main API and private files. */
    apiToken: secretRefSchema,
    /** `Bearer <token>` (current docs) or Basic `bearer:<token>` (older docs, tap-dixa). */
    exportsAuth: z.enum(['bearer', 'basic']).default('bearer'),
    /** Hosts a files redirect may land on besides the files host. Credentials never go there. */
    storageHosts: z.array(hostPatternSchema).max(100).default([]),
    /** Days per exports API request (the API allows at most 31). */
    windowDays: z.number().int().min(1).max(31).default(1),
    ...connectionCommon,
  })
  .strict()
  .superRefine(networkRules(['exportsBaseUrl', 'apiBaseUrl', 'filesBaseUrl'], ['storageHosts'], 'apiToken'));

export const koreConnectionSchema = z
  .object({
    provider: z.literal('kore'),
    /** The platform environment, e.g. https://platform.kore.ai (or a regional/on-prem host). */
    baseUrl: urlSchema.default('https://platform.kore.ai'),
    /** Bot (stream) id from the app settings page. */
    botId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'a Kore bot id such as st-1234abcd-...'),
    /** The app's client id and secret: the worker mints the `auth` JWT from them. */
    clientId: secretRefSchema,
    clientSecret: secretRefSchema,
    /** v2 (signed media links, statuses) is Kore's recommended API; v1 inlines base64 audio and is deprecated. */
    recordingsApi: z.enum(['v2', 'v1']).default('v2'),
    includeVoicemail: z.boolean().default(true),
    /** Hosts v2 signed fileUrls may point at besides the platform host. No credentials go there. */
    mediaHosts: z.array(hostPatternSchema).max(100).default([]),
    /** Session channels that are calls. */
    channels: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'a channel name such as korevg')).min(1).max(100).default(['korevg']),
    /**
     * Least time between two Kore API calls (getSessions, recordings, voicemail) from one worker
     * process for this connection. Kore allows 60 calls a minute and 1,800 an hour per bot, so the
     * default 2000 ms (1,800/hour) is the safe published pace; lower it only for a raised quota,
     * a simulator or a staging tenant. Signed media downloads are not Kore API calls and are not
     * paced. Several worker processes each keep this pace: the server-side `rateLimit` bounds them together.
     */
    minRequestIntervalMs: z.number().int().min(0).max(3_600_000).default(2000),
    ...connectionCommon,
  })
  .strict()
  .superRefine(networkRules(['baseUrl'], ['mediaHosts'], 'clientId and clientSecret'));

/** Providers register their schema here; the discriminator is `provider`. */
export const connectionSchema = z.discriminatedUnion('provider', [birdConnectionSchema, dixaConnectionSchema, koreConnectionSchema]);
export type ConnectionConfig = z.infer<typeof connectionSchema> & { name: string };
export type BirdConnectionConfig = z.infer<typeof birdConnectionSchema> & { name: string };
export type KoreConnectionConfig = z.infer<typeof koreConnectionSchema> & { name: string };
export type DixaConnectionConfig = z.infer<typeof dixaConnectionSchema> & { name: string };

/** `host:port` of the Temporal frontend: a name, an IPv4 address or a bracketed IPv6 address. */
const TEMPORAL_ADDRESS = /^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\]):(\d{1,5})$/;

function isTemporalAddress(value: string): boolean {
  const port = Number(TEMPORAL_ADDRESS.exec(value)?.[1] ?? 0);
  return port >= 1 && port <= 65535;
}

const temporalAddressSchema = z.string().refine(isTemporalAddress, 'expected host:port, such as 127.0.0.1:7233 or temporal.internal:7233 (no scheme, port 1-65535)');

/**
 * Why a Postgres URL cannot be used, or undefined. A password never sits in the configuration file:
 * it comes from the worker's environment (PGPASSWORD, ~/.pgpass, or the whole URL in DATABASE_URL),
 * as for every Postgres client, so `allowPassword` is only for the URL taken from DATABASE_URL.
 */
export function databaseUrlProblem(raw: unknown, allowPassword: boolean): string | undefined {
  if (typeof raw !== 'string' || raw.length > 2048 || /[\s\u0000-\u001f\u007f]/.test(raw)) return 'expected a postgres:// URL without spaces or control characters';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'expected a URL such as postgres://callvault@db.internal:5432/callvault';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return `expected a postgres:// or postgresql:// URL, got ${url.protocol}`;
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
const connectionsSchema = z.preprocess((raw, ctx) => {
  if (typeof raw !== 'object' || raw === null) return raw;
  for (const name of Object.keys(raw)) {
    if (!CONNECTION_NAME.test(name)) ctx.issues.push({ code: 'custom', message: CONNECTION_NAME_HINT, path: [name], input: undefined });
  }
  return raw;
}, z.record(z.string(), connectionSchema));

export const configSchema = z
  .object({
    temporal: z
      .object({
        address: temporalAddressSchema.default('127.0.0.1:7233'),
        namespace: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'a Temporal namespace: letters, digits, dots, dashes and underscores').default('default'),
        /** Prefix of every task queue; workflows and bookkeeping run on the prefix itself. */
        taskQueue: z.string().regex(TASK_QUEUE, TASK_QUEUE_HINT).default('callvault'),
      })
      .strict()
      .default({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'callvault' }),
    storage: z
      .object({
        /** The S3 endpoint: the deployment's own store, so a private address needs no allowance (link-local and metadata are refused). */
        endpoint: urlSchema
          .superRefine((v, ctx) => {
            const problem = serviceUrlProblem(v, { allowPrivateNetwork: true, secretHint: `S3 keys go in storage.accessKeyId and storage.secretAccessKey: ${SECRET_REF_HINT}` });
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
        region: z.string().regex(/^[a-z0-9][a-z0-9-]{0,49}$/, 'an S3 region such as us-east-1').default('us-east-1'),
        bucket: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)')
          .refine((b) => !b.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(b), 'an S3 bucket name has no two dots in a row and is not an IP address'),
        prefix: z.string().regex(PREFIX, 'segments of letters, digits, dots, dashes and underscores separated by single slashes; none empty, none starting with a dot (no ../), no leading or trailing slash').default('callvault'),
        forcePathStyle: z.boolean().default(true),
        accessKeyId: secretRefSchema.optional(),
        secretAccessKey: secretRefSchema.optional(),
        /** Part size for multipart uploads; grown automatically for files that would need >10,000 parts. */
        partSizeMiB: z.number().int().min(5).max(512).default(8),
      })
      .strict(),
    worker: z
      .object({
        /** Transfers one worker process runs at once; each holds at most one part in memory. */
        transferConcurrency: z.number().int().min(1).max(256).default(8),
        /** Listing calls one worker process runs at once. */
        listConcurrency: z.number().int().min(1).max(64).default(4),
      })
      .strict()
      .default({ transferConcurrency: 8, listConcurrency: 4 }),
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
