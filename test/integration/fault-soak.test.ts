import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkIdentity, shortHash } from '../../src/providers/dixa/links';
import { BirdSimulator } from '../../src/simulators/bird';
import { DixaSimulator, type DixaFileRef } from '../../src/simulators/dixa';
import type { FaultPlan } from '../../src/simulators/faults';
import { KoreSimulator, type KoreSessionSpec } from '../../src/simulators/kore';
import { exportEnv, uniqueName, type ExportEnv } from '../support/harness';
import {
  expectEveryFileAccountedFor,
  expectRerunFetchesNothing,
  runSoakExport,
  soakLine,
  type SoakRun,
  type SoakSubject,
} from '../support/soak';
import { MiB } from '../../src/contracts/units';

/**
 * Faults the way the platforms send them: seeded random transient faults on at least 15% of
 * requests (429 with Retry-After on every 7th API call whatever the pace, 500 and 503, malformed
 * JSON, resets and short bodies at random positions, expired signed URLs), overlapping listing
 * pages, each fault succeeding on a later try; several files of one batch fail in one attempt.
 * For each provider the export must end with every available file stored once, no file given
 * up, failure rows exactly for files the platform says are gone, and a rerun fetching nothing.
 */
const RATE = 0.15;

function faultStats(plan: FaultPlan): () => { requests: number; faults: number; detail: string } {
  return () => {
    const { targets, total } = plan.stats();
    const detail = Object.entries(targets)
      .map(([t, s]) => `${t} ${s.faults}/${s.requests}`)
      .join(', ');
    return { requests: total.requests, faults: total.faults, detail };
  };
}

/** Runs one provider's soak: the export, the checks, the rerun, and the figures. */
function soak(label: string, build: () => Promise<{ subject: SoakSubject; stop: () => Promise<void> }>) {
  describe(`fault soak: ${label}`, () => {
    let subject: SoakSubject;
    let stop: () => Promise<void>;
    let first: SoakRun;

    beforeAll(async () => {
      ({ subject, stop } = await build());
      await subject.env.spawnWorker();
      first = await runSoakExport(subject);
    }, 480_000);

    afterAll(async () => {
      await subject?.env.close();
      await stop?.();
    });

    it('stores every available file once, gives none up, and fails exactly the final ones with their own reasons', async () => {
      const stats = subject.faultStats();
      expect(stats.faults / stats.requests).toBeGreaterThanOrEqual(RATE);
      await expectEveryFileAccountedFor(subject, first);
    });

    it('transfers nothing and fetches no file byte on a rerun, under the same faults', async () => {
      const rerun = await expectRerunFetchesNothing(subject);
      console.log(soakLine(subject, first, rerun));
    });
  });
}

async function env(connection: string, config: Record<string, unknown>, secrets: Record<string, string>): Promise<ExportEnv> {
  // No rate limit on the simulators: the published limits would only slow the soak.
  return exportEnv({
    connections: {
      [connection]: {
        ...config,
        batchSize: 8,
        notReadyRetrySeconds: 1,
        allowPrivateNetwork: true,
        rateLimit: { listPerSecond: 50, transferPerSecond: 1000 },
      },
    },
    secrets,
    storage: { partSizeMiB: 5 },
  });
}

soak('Bird', async () => {
  const connection = uniqueName('soak-bird');
  const window = { from: '2026-03-01T00:00:00Z', to: '2026-03-04T00:00:00Z' };
  const recordings = BirdSimulator.generate({
    seed: connection,
    count: 200,
    ...window,
    size: { min: 300, max: 120_000 },
    statuses: { absent: 3, failed: 3 },
  });
  for (const i of [17, 121]) recordings[i]!.size = 11 * MiB + i;
  for (const i of [55, 199]) recordings[i]!.size = 2 * MiB + i;
  for (const i of [8, 140]) Object.assign(recordings[i]!, { status: 'ongoing', availableAfterPolls: 2 });
  const sim = new BirdSimulator({ seed: connection, recordings });
  sim.playRealisticFaults({ rate: RATE });
  await sim.start();
  const inventory = await sim.inventory();
  const subject: SoakSubject = {
    label: 'bird',
    connection,
    provider: 'bird',
    window,
    env: await env(
      connection,
      {
        provider: 'bird',
        baseUrl: sim.baseUrl,
        workspaceId: sim.workspaceId,
        accessKey: { env: 'BIRD_KEY' },
        mediaHosts: [sim.storageHost],
        pageSize: 25,
      },
      { BIRD_KEY: sim.accessKey },
    ),
    available: new Map(inventory.filter((f) => f.availability === 'available').map((f) => [f.id, { size: f.size, sha256: f.sha256 }])),
    finals: new Map(
      inventory
        .filter((f) => f.availability === 'final')
        .map((f) => [f.id, new RegExp(`recording ${f.id}: Bird reports status '${f.status}'`)]),
    ),
    mediaBytesSent: () => inventory.reduce((n, f) => n + sim.mediaBytesSent(f.id), 0),
    faultStats: faultStats(sim.faults),
  };
  return { subject, stop: () => sim.stop() };
});

soak('Dixa', async () => {
  const connection = uniqueName('soak-dixa');
  const window = { from: '2026-05-04T00:00:00Z', to: '2026-05-07T00:00:00Z' };
  const sim = new DixaSimulator({ seed: connection, generate: { count: 90, ...window, size: { min: 200, max: 90_000 } } });
  sim.playRealisticFaults({ rate: RATE });
  await sim.start();
  const inventory = await sim.inventory();
  const refs = new Map([...sim.allFiles()].map((r) => [r.file.id, r]));
  const sourceIdOf = (ref: DixaFileRef) =>
    ref.kind === 'attachment'
      ? `${ref.message.id}:attachment:${shortHash(linkIdentity(sim.linkOf(ref.file), sim.filesBaseUrl))}`
      : `${ref.message.id}:${ref.kind}`;
  const subject: SoakSubject = {
    label: 'dixa',
    connection,
    provider: 'dixa',
    window,
    env: await env(
      connection,
      {
        provider: 'dixa',
        exportsBaseUrl: sim.exportsBaseUrl,
        apiBaseUrl: sim.apiBaseUrl,
        filesBaseUrl: sim.filesBaseUrl,
        storageHosts: [sim.storageHost],
        apiToken: { env: 'DIXA_TOKEN' },
      },
      { DIXA_TOKEN: sim.apiToken },
    ),
    available: new Map(inventory.map((f) => [sourceIdOf(refs.get(f.id)!), { size: f.size, sha256: f.sha256 }])),
    finals: new Map(),
    mediaBytesSent: () => inventory.reduce((n, f) => n + sim.mediaBytesSent(f.id), 0),
    faultStats: faultStats(sim.faults),
  };
  return { subject, stop: () => sim.stop() };
});

function koreSoak(api: 'v1' | 'v2') {
  soak(`Kore ${api}`, async () => {
    const connection = uniqueName(`soak-kore-${api}`);
    const window = { from: '2025-03-01T00:00:00Z', to: '2025-03-04T00:00:00Z' };
    const sessions: KoreSessionSpec[] = KoreSimulator.generate({
      seed: connection,
      count: api === 'v1' ? 45 : 70,
      ...window,
      chatEvery: 5,
      recordingsPerSession: { min: 1, max: 3 },
      size: { min: 300, max: 60_000 },
      voicemailEvery: api === 'v1' ? 0 : 4,
    });
    // v2 tells final statuses; v1 has none (a failed session simply lists nothing).
    if (api === 'v2') for (const s of sessions.filter((s) => s.channel === 'korevg').slice(3, 6)) s.status = 'failed';
    const sim = new KoreSimulator({ seed: connection, sessions });
    sim.playRealisticFaults({ rate: RATE });
    await sim.start();
    const inventory = await sim.inventory();
    const sourceId = (f: { sessionId: string; kind: string; index: number }) => `${f.sessionId}-${f.kind}-${f.index}`;
    const finalSessions = [...new Set(inventory.filter((f) => f.availability === 'final').map((f) => f.sessionId))];
    const subject: SoakSubject = {
      label: `kore-${api}`,
      connection,
      provider: 'kore',
      window,
      env: await env(
        connection,
        {
          provider: 'kore',
          baseUrl: sim.baseUrl,
          botId: sim.botId,
          clientId: { env: 'KORE_ID' },
          clientSecret: { env: 'KORE_SECRET' },
          mediaHosts: [sim.mediaHost],
          recordingsApi: api,
          includeVoicemail: api === 'v2',
          minRequestIntervalMs: 0,
        },
        { KORE_ID: sim.clientId, KORE_SECRET: sim.clientSecret },
      ),
      available: new Map(
        inventory.filter((f) => f.availability === 'available').map((f) => [sourceId(f), { size: f.size, sha256: f.sha256 }]),
      ),
      // A failed v2 session is one failure row, on the stand-in of its recordings: Kore never names its files.
      finals: new Map(finalSessions.map((s) => [`${s}-recording-0`, new RegExp(`session ${s} recording 0: Kore reports status 'failed'`)])),
      mediaBytesSent: () =>
        inventory.reduce((n, f) => n + sim.mediaBytesSent(f.id), 0) + sessions.reduce((n, s) => n + sim.v1BytesSent(s.sessionId), 0),
      faultStats: faultStats(sim.faults),
    };
    return { subject, stop: () => sim.stop() };
  });
}

koreSoak('v2');
koreSoak('v1');
