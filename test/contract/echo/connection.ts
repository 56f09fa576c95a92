import { z } from 'zod';
import { connectionSchema, hostPatternSchema, urlSchema, type ConnectionOf } from '../../../src/providers/connection';
import { secretRefSchema } from '../../../src/secrets';

/** An Echo connection: the API's base URL, a bearer token, and the hosts its media links may point at. */
export const echoConnectionSchema = connectionSchema(
  'echo',
  {
    baseUrl: urlSchema,
    token: secretRefSchema,
    mediaHosts: z.array(hostPatternSchema).min(1).max(100),
    /** Calls per listing page (the API allows 1-50). */
    pageSize: z.number().int().min(1).max(50).default(50),
  },
  { urls: ['baseUrl'], hosts: ['mediaHosts'], secret: 'token' },
);
export type EchoConnectionConfig = ConnectionOf<typeof echoConnectionSchema>;
