import type { BirdSimulator } from '../../src/simulators/bird';

/**
 * The configuration entry of a Bird connection served by `sim`: its API and media host, the access
 * key read from `BIRD_KEY` (pass `secrets: { BIRD_KEY: sim.accessKey }`), private addresses allowed
 * because the simulator listens on 127.0.0.1. `overrides` adds or replaces fields (batch size,
 * rate limit, retention, archive...).
 */
export function birdConnection(
  sim: Pick<BirdSimulator, 'baseUrl' | 'workspaceId' | 'storageHost'>,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    provider: 'bird',
    allowPrivateNetwork: true,
    baseUrl: sim.baseUrl,
    workspaceId: sim.workspaceId,
    accessKey: { env: 'BIRD_KEY' },
    mediaHosts: [sim.storageHost],
    ...overrides,
  };
}
