import { z } from 'zod';
import { CONNECTION_NAME, CONNECTION_NAME_HINT } from './names';
import { secretRefSchema } from './secrets';

/** Connection names end up in task queue names, object keys and workflow ids: keep them tame. */
export const connectionNameSchema = z.string().regex(CONNECTION_NAME, CONNECTION_NAME_HINT);

const hostPatternSchema = z
  .string()
  .regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/i, 'a host name, optionally with :port, optionally starting with *.');

/** Settings every connection has, whatever its provider. */
const connectionCommon = {
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
      listPerSecond: z.number().positive().optional(),
      transferPerSecond: z.number().positive().optional(),
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
      leadDays: z.number().int().min(0).max(36_499).default(3),
    })
    .strict()
    .refine((r) => r.leadDays < r.keepDays, { message: 'must be smaller than keepDays', path: ['leadDays'] })
    .optional(),
};

export const birdConnectionSchema = z
  .object({
    provider: z.literal('bird'),
    baseUrl: z.url().default('https://api.bird.com'),
    workspaceId: z.string().min(1),
    accessKey: secretRefSchema,
    /** Hosts the media redirect may lead to. Credentials are never sent to them either way. */
    mediaHosts: z.array(hostPatternSchema).min(1).default(['*.amazonaws.com']),
    /** Recordings per List Recordings call (the API allows 1-99). */
    pageSize: z.number().int().min(1).max(99).default(99),
    ...connectionCommon,
  })
  .strict();

const httpUrlSchema = z.url({ protocol: /^https?$/ });

export const dixaConnectionSchema = z
  .object({
    provider: z.literal('dixa'),
    exportsBaseUrl: httpUrlSchema.default('https://exports.dixa.io'),
    apiBaseUrl: httpUrlSchema.default('https://dev.dixa.io'),
    /** The only origin file links may point at; relative links are paths on it. */
    filesBaseUrl: httpUrlSchema.default('https://files.dixa.io'),
    /** One Dixa API token serves the exports API, the main API and private files. */
    apiToken: secretRefSchema,
    /** `Bearer <token>` (current docs) or Basic `bearer:<token>` (older docs, tap-dixa). */
    exportsAuth: z.enum(['bearer', 'basic']).default('bearer'),
    /** Hosts a files redirect may land on besides the files host. Credentials never go there. */
    storageHosts: z.array(hostPatternSchema).default([]),
    /** Days per exports API request (the API allows at most 31). */
    windowDays: z.number().int().min(1).max(31).default(1),
    ...connectionCommon,
  })
  .strict();

export const koreConnectionSchema = z
  .object({
    provider: z.literal('kore'),
    /** The platform environment, e.g. https://platform.kore.ai (or a regional/on-prem host). */
    baseUrl: httpUrlSchema.default('https://platform.kore.ai'),
    /** Bot (stream) id from the app settings page. */
    botId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'a Kore bot id such as st-1234abcd-...'),
    /** The app's client id and secret: the worker mints the `auth` JWT from them. */
    clientId: secretRefSchema,
    clientSecret: secretRefSchema,
    /** v2 (signed media links, statuses) is Kore's recommended API; v1 inlines base64 audio and is deprecated. */
    recordingsApi: z.enum(['v2', 'v1']).default('v2'),
    includeVoicemail: z.boolean().default(true),
    /** Hosts v2 signed fileUrls may point at besides the platform host. No credentials go there. */
    mediaHosts: z.array(hostPatternSchema).default([]),
    /** Session channels that are calls. */
    channels: z.array(z.string().min(1).max(100)).min(1).default(['korevg']),
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
  .strict();

/** Providers register their schema here; the discriminator is `provider`. */
export const connectionSchema = z.discriminatedUnion('provider', [birdConnectionSchema, dixaConnectionSchema, koreConnectionSchema]);
export type ConnectionConfig = z.infer<typeof connectionSchema> & { name: string };
export type BirdConnectionConfig = z.infer<typeof birdConnectionSchema> & { name: string };
export type KoreConnectionConfig = z.infer<typeof koreConnectionSchema> & { name: string };
export type DixaConnectionConfig = z.infer<typeof dixaConnectionSchema> & { name: string };

export const configSchema = z
  .object({
    temporal: z
      .object({
        address: z.string().min(1).default('127.0.0.1:7233'),
        namespace: z.string().min(1).default('default'),
        /** Prefix of every task queue; workflows and bookkeeping run on the prefix itself. */
        taskQueue: z.string().regex(/^[A-Za-z0-9._-]+$/).default('callvault'),
      })
      .strict()
      .default({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'callvault' }),
    storage: z
      .object({
        endpoint: z.url().optional(),
        region: z.string().min(1).default('us-east-1'),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)'),
        prefix: z.string().regex(/^[A-Za-z0-9._/-]*$/).default('callvault'),
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
      .object({ url: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/callvault') })
      .strict()
      .default({ url: 'postgres://postgres@127.0.0.1:5432/callvault' }),
    connections: z.record(connectionNameSchema, connectionSchema),
  })
  .strict();

export type CallvaultConfig = Omit<z.infer<typeof configSchema>, 'connections'> & {
  connections: Record<string, ConnectionConfig>;
};
