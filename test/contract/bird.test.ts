import { BirdSimulator, type BirdStatus } from '../../src/simulators/bird';
import { providerContract, type ContractAdapter } from './suite';
import { birdConnection } from '../support/birdConnection';

const STATUS: Record<'ready' | 'not_ready' | 'final', BirdStatus> = { ready: 'available', not_ready: 'ongoing', final: 'absent' };

/** Bird: a scenario file is a recording of its own call; statuses `ongoing` (not ready) and `absent` (final). */
const adapter: ContractAdapter = {
  provider: 'bird',
  states: ['ready', 'not_ready', 'final'],
  names: false,
  requestsPerFile: { api: 1, media: 1 },
  async start(scenario) {
    const recordings = [...scenario.inside, ...scenario.outside].map((f) => ({
      id: f.key,
      sourceId: `call-${f.key}`,
      channelId: 'channel-1',
      createdAt: f.createdAt,
      size: f.size,
      status: STATUS[f.state],
    }));
    const sim = new BirdSimulator({ seed: 'contract', recordings });
    await sim.start();
    return {
      connection: birdConnection(sim, { pageSize: 7 }),
      env: { BIRD_KEY: sim.accessKey },
      wrongEnv: { BIRD_KEY: 'bird-key-wrong' },
      secrets: [sim.accessKey],
      credentialServers: ['bird-api'],
      credentialHeaders: ['authorization'],
      requests: sim.requests,
      keyOf: (item) => item.locator.recordingId!,
      sha256: (key) => sim.sha256(key),
      setRange: (on) => (sim.media.range = on),
      linkTo: (key, url) => void sim.faults.add({ target: 'metadata', id: key, fault: { kind: 'foreign-redirect', location: url } }),
      vanished: (item) => ({ ...item, sourceId: `${item.sourceId}-gone`, locator: { recordingId: 'no-such-recording' } }),
      stop: () => sim.stop(),
    };
  },
};

providerContract(adapter);
