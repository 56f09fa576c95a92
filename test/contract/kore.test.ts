import { KoreSimulator, type KoreSessionSpec, type KoreStatus } from '../../src/simulators/kore';
import { providerContract, type ContractAdapter } from './suite';

const STATUS: Record<'ready' | 'not_ready' | 'final', KoreStatus> = { ready: 'success', not_ready: 'media_in_progress', final: 'failed' };

/**
 * Kore.ai (v2 recordings API): a scenario file is the one recording of a voice session of its
 * own; statuses `media_in_progress` (not ready) and `failed` (final). Recordings have no names of
 * their own (Kore names them after the session).
 */
const adapter: ContractAdapter = {
  provider: 'kore',
  states: ['ready', 'not_ready', 'final'],
  names: false,
  requestsPerFile: { api: 1, media: 1 },
  async start(scenario) {
    const sessions: KoreSessionSpec[] = [...scenario.inside, ...scenario.outside].map((f) => ({
      sessionId: f.key,
      userId: 'u-1',
      channel: 'korevg',
      startTime: f.createdAt,
      endTime: f.createdAt,
      recordings: [{ size: f.size, format: 'wav' }],
      voicemails: [],
      status: STATUS[f.state],
    }));
    const sim = new KoreSimulator({ seed: 'contract', sessions });
    await sim.start();
    const jwts = () => sim.requests.filter((r) => r.server === 'kore-api').map((r) => r.headers.auth ?? '');
    return {
      connection: {
        provider: 'kore',
        allowPrivateNetwork: true,
        baseUrl: sim.baseUrl,
        botId: sim.botId,
        clientId: { env: 'KORE_ID' },
        clientSecret: { env: 'KORE_SECRET' },
        mediaHosts: [sim.mediaHost],
        includeVoicemail: false,
        minRequestIntervalMs: 0,
      },
      env: { KORE_ID: sim.clientId, KORE_SECRET: sim.clientSecret },
      wrongEnv: { KORE_ID: sim.clientId, KORE_SECRET: 'kore-secret-wrong' },
      // The JWTs minted from the secret travel as `auth`: they, like the secret, stay on the API.
      get secrets() {
        return [sim.clientSecret, ...jwts().filter((t) => t.length > 0)];
      },
      credentialServers: ['kore-api'],
      credentialHeaders: ['auth', 'authorization'],
      requests: sim.requests,
      keyOf: (item) => item.locator.sessionId!,
      sha256: (key) => sim.sha256(key, 0),
      setRange: (on) => (sim.media.range = on),
      linkTo: (key, url) => void sim.faults.add({ target: 'v2', id: key, fault: { kind: 'foreign-redirect', location: url } }),
      vanished: (item) => ({ ...item, sourceId: `${item.sourceId}-gone`, locator: { ...item.locator, index: '99', standIn: '' } }),
      stop: () => sim.stop(),
    };
  },
};

providerContract(adapter);
