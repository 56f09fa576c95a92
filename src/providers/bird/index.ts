import { resolveSecret } from '../../secrets';
import type { ProviderDescriptor } from '../descriptor';
import { birdConnectionSchema, type BirdConnectionConfig } from './connection';
import { BirdProvider } from './provider';

const LIMITS = { listRequestsPerSecond: 40, transferRequestsPerSecond: 40, requestsPerFile: 1 };

/** Bird's voice API: recordings listed by workspace and window, media behind a signed URL. */
export const bird: ProviderDescriptor<BirdConnectionConfig> = {
  name: 'bird',
  connectionSchema: birdConnectionSchema,
  /**
   * Bird's published limit is 50 GET/s per workspace; stay under it with room for other clients.
   * A file costs one API request per attempt: its metadata, which carries a freshly signed media
   * URL. The media GET goes to that URL's storage origin (an object store, not Bird's API), which
   * the limit does not cover. The listing's own URLs are never used: they may be minutes old by
   * the time a file's turn comes, and a signed URL must not travel through workflow inputs.
   * The task queue paces activities; within one, the provider spaces these requests itself
   * (RequestPacer) at the connection's transfer rate, so a batch does not spend it in a burst.
   */
  limits: LIMITS,
  create: (conn, env) =>
    new BirdProvider(
      conn,
      resolveSecret(conn.accessKey, `connections.${conn.name}.accessKey`, env),
      conn.rateLimit.transferPerSecond ?? LIMITS.transferRequestsPerSecond,
    ),
  explainCredentialFailure: (conn, err) =>
    `${err.message}: Bird refused the credentials of connection '${conn.name}'. Fix: put an access key of workspace ${conn.workspaceId} ` +
    `where connections.${conn.name}.accessKey points, then rerun the export`,
};
