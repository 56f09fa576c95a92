import { BirdSimulator } from '../simulators/bird';
import { DixaSimulator } from '../simulators/dixa';
import { KoreSimulator } from '../simulators/kore';
import type { Window } from '../contracts/window';
import { MiB } from '../contracts/units';
import type { SecretRef } from '../secrets';

export interface DemoSimulators {
  /** Connection entries for the configuration file, pointing at the simulators. */
  connections: Record<string, unknown>;
  /** The connections' secrets by name, where `secretRef(name)` says the configuration finds them. */
  secrets: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * One simulator per platform, seeded so every demo run sees the same conversations and bytes:
 * recordings from a few KiB to a few MiB, a recording still being processed, one the platform
 * lost, public and private attachments, voicemails, several recordings per Kore session.
 */
export async function startDemoSimulators(window: Window, secretRef: (name: string) => SecretRef): Promise<DemoSimulators> {
  const sims = seedSimulators(window);
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    for (const sim of [sims.bird, sims.dixa, sims.kore]) {
      await sim.start();
      started.push(sim);
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw err;
  }
  return {
    connections: demoConnections(sims, secretRef),
    secrets: {
      DEMO_BIRD_ACCESS_KEY: sims.bird.accessKey,
      DEMO_DIXA_API_TOKEN: sims.dixa.apiToken,
      DEMO_KORE_CLIENT_ID: sims.kore.clientId,
      DEMO_KORE_CLIENT_SECRET: sims.kore.clientSecret,
    },
    async stop() {
      await Promise.allSettled(started.map((s) => s.stop()));
    },
  };
}

interface Simulators {
  bird: BirdSimulator;
  dixa: DixaSimulator;
  kore: KoreSimulator;
}

function seedSimulators(window: Window): Simulators {
  const recordings = BirdSimulator.generate({
    seed: 'demo',
    count: 60,
    ...window,
    size: { min: 20 * 1024, max: 2 * MiB },
    statuses: { absent: 1 },
  });
  recordings[7]!.size = 24 * MiB;
  Object.assign(recordings[11]!, { status: 'ongoing', availableAfterPolls: 1 });
  return {
    bird: new BirdSimulator({ seed: 'demo', recordings }),
    dixa: new DixaSimulator({ seed: 'demo', generate: { count: 45, ...window, size: { min: 4 * 1024, max: 1 * MiB }, filesEvery: 1 } }),
    kore: new KoreSimulator({
      seed: 'demo',
      sessions: KoreSimulator.generate({
        seed: 'demo',
        count: 8,
        ...window,
        chatEvery: 4,
        recordingsPerSession: { min: 1, max: 3 },
        size: { min: 16 * 1024, max: 3 * MiB },
        voicemailEvery: 3,
      }),
    }),
  };
}

function demoConnections({ bird, dixa, kore }: Simulators, secretRef: (name: string) => SecretRef): Record<string, unknown> {
  return {
    'bird-demo': {
      provider: 'bird',
      allowPrivateNetwork: true,
      baseUrl: bird.baseUrl,
      workspaceId: bird.workspaceId,
      accessKey: secretRef('DEMO_BIRD_ACCESS_KEY'),
      mediaHosts: [bird.storageHost],
      notReadyRetrySeconds: 3,
    },
    'dixa-demo': {
      provider: 'dixa',
      allowPrivateNetwork: true, // the simulators listen on 127.0.0.1
      exportsBaseUrl: dixa.exportsBaseUrl,
      apiBaseUrl: dixa.apiBaseUrl,
      filesBaseUrl: dixa.filesBaseUrl,
      apiToken: secretRef('DEMO_DIXA_API_TOKEN'),
      storageHosts: [dixa.storageHost],
      // The simulator does not rate-limit; the real exports API allows about 10 calls a minute.
      rateLimit: { listPerSecond: 5 },
    },
    'kore-demo': {
      provider: 'kore',
      allowPrivateNetwork: true,
      baseUrl: kore.baseUrl,
      botId: kore.botId,
      clientId: secretRef('DEMO_KORE_CLIENT_ID'),
      clientSecret: secretRef('DEMO_KORE_CLIENT_SECRET'),
      mediaHosts: [kore.mediaHost],
      // The simulator does not rate-limit; the real API allows 60 calls a minute per bot.
      minRequestIntervalMs: 50,
      rateLimit: { listPerSecond: 5, transferPerSecond: 20 },
    },
  };
}
