import { describe, expect, it } from 'vitest';
import { connectionSchemaFor } from '../../../src/config/schema';
import { PROVIDERS } from '../../../src/providers/catalog';
import type { ConnectionBase } from '../../../src/providers/connection';
import { createProvider, descriptorOf, providerLimits } from '../../../src/providers/registry';
import { TEST_PROVIDERS } from '../catalog';
import { providerContract, type ContractAdapter } from '../suite';
import { EchoSimulator } from './simulator';

const STATE = { ready: 'ready', not_ready: 'processing', final: 'lost' } as const;

const adapter: ContractAdapter = {
  provider: 'echo',
  states: ['ready', 'not_ready', 'final'],
  names: true,
  requestsPerFile: { api: 1, media: 1 },
  async start(scenario) {
    const files = [...scenario.inside, ...scenario.outside];
    const sim = new EchoSimulator(
      files.map((f) => ({
        id: f.key,
        startedAt: f.createdAt,
        size: f.size,
        state: STATE[f.state],
        ...(f.name !== undefined ? { name: f.name } : {}),
      })),
    );
    await sim.start();
    return {
      connection: {
        provider: 'echo',
        allowPrivateNetwork: true,
        baseUrl: sim.baseUrl,
        token: { env: 'ECHO_TOKEN' },
        mediaHosts: [sim.storageHost],
        pageSize: 7,
      },
      env: { ECHO_TOKEN: sim.token },
      wrongEnv: { ECHO_TOKEN: 'not-the-token' },
      secrets: [sim.token],
      credentialServers: ['echo-api'],
      credentialHeaders: ['authorization'],
      requests: sim.requests,
      keyOf: (item) => item.locator.callId!,
      sha256: (key) => sim.sha256(key),
      setRange: (on) => (sim.media.range = on),
      linkTo: (key, url) => void sim.faults.add({ target: 'call', id: key, fault: { kind: 'foreign-redirect', location: url } }),
      vanished: (item) => ({ ...item, sourceId: `${item.sourceId}-gone`, locator: { callId: 'no-such-call' } }),
      stop: () => sim.stop(),
    };
  },
};

providerContract(adapter);

describe('a fourth provider is a folder and one catalog line', () => {
  const connection = {
    provider: 'echo',
    allowPrivateNetwork: true,
    baseUrl: 'http://127.0.0.1:1',
    token: { env: 'T' },
    mediaHosts: ['127.0.0.1:2'],
  };

  it("the configuration's connection union and the registry take it from the test catalog", () => {
    const parsed = connectionSchemaFor(TEST_PROVIDERS).parse(connection);
    expect(parsed).toMatchObject({ provider: 'echo', pageSize: 50, notReadyRetrySeconds: 60 });
    const conn = { ...(parsed as Omit<ConnectionBase, 'name'>), name: 'echo-1' };
    expect(descriptorOf(conn, TEST_PROVIDERS).name).toBe('echo');
    expect(providerLimits(conn, TEST_PROVIDERS).listRequestsPerSecond).toBe(5);
    expect(createProvider(conn, { T: 'x' }, TEST_PROVIDERS).providerName).toBe('echo');
  });

  it('does not ship: the shipped catalog refuses an echo connection', () => {
    expect(PROVIDERS.map((p) => p.name)).not.toContain('echo');
    expect(connectionSchemaFor(PROVIDERS).safeParse(connection).success).toBe(false);
  });
});
