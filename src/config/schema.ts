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
  /** Files per transfer activity: larger batches amortise Temporal round trips for small files. */
  batchSize: z.number().int().min(1).max(64).default(4),
  /** Override the provider's published rate limits (requests per second), e.g. for a raised quota. */
  rateLimit: z
    .object({
      listPerSecond: z.number().positive().optional(),
      transferPerSecond: z.number().positive().optional(),
    })
    .strict()
    .default({}),
};

export const birdConnectionSchema = z
  .object({
    provider: z.literal('bird'),
    baseUrl: z.url().default('https://api.bird.com'),
    workspaceId: z.string().min(1),
    accessKey: secretRefSchema,
    /** Hosts the media redirect may lead to. Credentials are never sent to them either way. */
    mediaHosts: z.array(hostPatternSchema).min(1).default(['*.amazonaws.com']),
    ...connectionCommon,
  })
  .strict();

/** Providers register their schema here; the discriminator is `provider`. */
export const connectionSchema = z.discriminatedUnion('provider', [birdConnectionSchema]);
export type ConnectionConfig = z.infer<typeof connectionSchema> & { name: string };
export type BirdConnectionConfig = z.infer<typeof birdConnectionSchema> & { name: string };

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
