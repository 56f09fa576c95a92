import { resolveSecret } from '../../secrets';
import type { ProviderDescriptor } from '../descriptor';
import { dixaConnectionSchema, type DixaConnectionConfig } from './connection';
import { DixaProvider } from './provider';

/** Dixa: the exports API lists, the files host serves; one API token for both. */
export const dixa: ProviderDescriptor<DixaConnectionConfig> = {
  name: 'dixa',
  connectionSchema: dixaConnectionSchema,
  /**
   * Exports API: about 10 requests a minute (a third-party figure, unconfirmed), so listing is
   * paced at 10/60 per second and each listPage makes exactly one exports request. Files: Dixa
   * publishes no limit for files.dixa.io; the main API's 10/s per token is the safe reading, and a
   * file costs one request to the files host (the storage hop a redirect may add is not Dixa's).
   */
  limits: { listRequestsPerSecond: 10 / 60, transferRequestsPerSecond: 10, requestsPerFile: 1 },
  create: (conn, env) => new DixaProvider(conn, resolveSecret(conn.apiToken, `connections.${conn.name}.apiToken`, env)),
  explainCredentialFailure(conn, err) {
    // Refused by the exports API (`about`, see DixaProvider): the tenant may want the older form of the header.
    const basicHint =
      err.about === 'exports' && conn.exportsAuth === 'bearer'
        ? '; if the token is right, the tenant may expect the older Basic \'bearer:<token>\' form: set exportsAuth to "basic"'
        : '';
    return (
      `${err.message}: Dixa refused the API token of connection '${conn.name}'. Fix: create an API token in Dixa ` +
      `(Settings > Integrations > API tokens) and put it where connections.${conn.name}.apiToken points${basicHint}`
    );
  },
};
