import { z } from 'zod';
import { secretRefSchema } from '../../secrets';
import { connectionSchema, hostPatternSchema, urlSchema, type ConnectionOf } from '../connection';

/** A Dixa connection's settings, as the configuration gives them (README, "Configuration"). */
export const dixaConnectionSchema = connectionSchema(
  'dixa',
  {
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
  },
  { urls: ['exportsBaseUrl', 'apiBaseUrl', 'filesBaseUrl'], hosts: ['storageHosts'], secret: 'apiToken' },
);
export type DixaConnectionConfig = ConnectionOf<typeof dixaConnectionSchema>;
