import { z } from 'zod';
import { secretRefSchema } from '../../secrets';
import { connectionSchema, hostPatternSchema, urlSchema, type ConnectionOf } from '../connection';

/** A Bird connection's settings, as the configuration gives them (README, "Configuration"). */
export const birdConnectionSchema = connectionSchema(
  'bird',
  {
    baseUrl: urlSchema.default('https://api.bird.com'),
    workspaceId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'a Bird workspace id such as 2f0c2a1e-...'),
    accessKey: secretRefSchema,
    /** Hosts the media redirect may lead to. Credentials are never sent to them either way. */
    mediaHosts: z.array(hostPatternSchema).min(1).max(100).default(['*.amazonaws.com']),
    /** Recordings per List Recordings call (the API allows 1-99). */
    pageSize: z.number().int().min(1).max(99).default(99),
  },
  { urls: ['baseUrl'], hosts: ['mediaHosts'], secret: 'accessKey' },
);
export type BirdConnectionConfig = ConnectionOf<typeof birdConnectionSchema>;
