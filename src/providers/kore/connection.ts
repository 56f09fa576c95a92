import { z } from 'zod';
import { secretRefSchema } from '../../secrets';
import { connectionSchema, hostPatternSchema, urlSchema, type ConnectionOf } from '../connection';

/** A Kore.ai connection's settings, as the configuration gives them (README, "Configuration"). */
export const koreConnectionSchema = connectionSchema(
  'kore',
  {
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
    channels: z
      .array(z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'a channel name such as korevg'))
      .min(1)
      .max(100)
      .default(['korevg']),
    /**
     * Least time between two Kore API calls (getSessions, recordings, voicemail) from one worker
     * process for this connection. Kore allows 60 calls a minute and 1,800 an hour per bot, so the
     * default 2000 ms (1,800/hour) is the safe published pace; lower it only for a raised quota,
     * a simulator or a staging tenant. Signed media downloads are not Kore API calls and are not
     * paced. Several worker processes each keep this pace: the server-side `rateLimit` bounds them together.
     */
    minRequestIntervalMs: z.number().int().min(0).max(3_600_000).default(2000),
  },
  { urls: ['baseUrl'], hosts: ['mediaHosts'], secret: 'clientId and clientSecret' },
);
export type KoreConnectionConfig = ConnectionOf<typeof koreConnectionSchema>;
