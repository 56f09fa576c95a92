import { resolveSecret } from '../../secrets';
import type { ProviderDescriptor } from '../descriptor';
import { koreConnectionSchema, type KoreConnectionConfig } from './connection';
import { MISSING_SCOPE } from './errors';
import { KoreProvider } from './provider';

/** Kore.ai contact center (SmartAssist): voice sessions, their recordings and voicemails. */
export const kore: ProviderDescriptor<KoreConnectionConfig> = {
  name: 'kore',
  connectionSchema: koreConnectionSchema,
  /**
   * Kore publishes 60/minute and 1,800/hour per bot for these APIs. The task queues count
   * activities: one listing activity per second (each paces its own calls, see API_INTERVAL_MS in provider.ts),
   * and transfers at 0.5 requests/s with 1 request per file (the recordings JSON; the media GET
   * goes to a signed URL, which Kore's limit does not cover), i.e. at most one file every 2 s.
   * So transfers alone stay at 30 Kore calls a minute, 1,800 an hour:
   * half the minute budget, all of the hour budget once sustained, which is as far as the server
   * can be trusted to pace; a 429 beyond that waits a minute and retries.
   */
  limits: { listRequestsPerSecond: 1, transferRequestsPerSecond: 0.5, requestsPerFile: 1 },
  create: (conn, env) =>
    new KoreProvider(conn, {
      clientId: resolveSecret(conn.clientId, `connections.${conn.name}.clientId`, env),
      clientSecret: resolveSecret(conn.clientSecret, `connections.${conn.name}.clientSecret`, env),
    }),
  explainCredentialFailure(_conn, err) {
    if (err.about === MISSING_SCOPE)
      return `${err.message}; add that scope to the app (the app whose client id and secret the connection uses)`;
    return (
      `${err.message}: Kore refused the connection's JWT. Fix: check that the connection's clientId and clientSecret are the ` +
      'client id and secret of a Kore.ai app of the bot in botId, and that the app has the "SmartAssist Recordings" API scope'
    );
  },
};
