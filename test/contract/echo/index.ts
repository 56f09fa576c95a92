import { resolveSecret } from '../../../src/secrets';
import type { ProviderDescriptor } from '../../../src/providers/descriptor';
import { echoConnectionSchema, type EchoConnectionConfig } from './connection';
import { EchoProvider } from './provider';

/**
 * Echo, a call-recording platform that exists only in the tests: the fourth provider, added as a
 * folder and one line in the test catalog, to prove that the seam holds (test/contract/catalog.ts).
 */
export const echo: ProviderDescriptor<EchoConnectionConfig> = {
  name: 'echo',
  connectionSchema: echoConnectionSchema,
  limits: { listRequestsPerSecond: 5, transferRequestsPerSecond: 10, requestsPerFile: 1 },
  create: (conn, env) => new EchoProvider(conn, resolveSecret(conn.token, `connections.${conn.name}.token`, env)),
  explainCredentialFailure: (conn, err) =>
    `${err.message}: Echo refused the token of connection '${conn.name}'. Fix: put a valid token where connections.${conn.name}.token points`,
};
