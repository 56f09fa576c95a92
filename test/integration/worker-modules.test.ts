import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ExportResult } from '../../src/contracts/exportResult';
import { BirdSimulator } from '../../src/simulators/bird';
import { exportEnv, uniqueName, type ExportEnv } from '../support/harness';
import { birdConnection } from '../support/birdConnection';

const window = { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' };
const DIST = join(__dirname, '..', '..', 'dist');

/**
 * A production worker loads what it runs and nothing of the tools around it: started as
 * `callvault worker` (the compiled CLI, as the Dockerfile starts it), it exports a window, stops,
 * and says which modules it loaded.
 */
describe('the worker process', () => {
  const connection = uniqueName('modules');
  const sim = new BirdSimulator({
    seed: connection,
    recordings: BirdSimulator.generate({ seed: connection, count: 5, ...window, size: { min: 100, max: 5_000 } }),
  });
  let env: ExportEnv;
  let loaded: string[];
  let result: ExportResult;

  beforeAll(async () => {
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: birdConnection(sim),
      },
      secrets: { BIRD_KEY: sim.accessKey },
    });
    const list = join(inject('stack').dataDir, `${connection}.modules.json`);
    const worker = await env.spawnWorker({
      NODE_OPTIONS: `--require ${join(__dirname, '..', 'support', 'moduleList.cjs')}`,
      CALLVAULT_MODULE_LIST: list,
    });
    const started = await env.start({ connection, ...window, trigger: { kind: 'operator', by: 'test' } });
    result = (await started.handle.result()) as ExportResult;
    await worker.stop();
    if (!existsSync(list)) throw new Error(`the worker wrote no module list (${list})`);
    loaded = (JSON.parse(readFileSync(list, 'utf8')) as string[]).filter((m) => m.startsWith(DIST)).map((m) => relative(DIST, m));
  });

  afterAll(async () => {
    await env?.close();
    await sim.stop();
  });

  it('exports, loading the worker, its activities and the providers', () => {
    expect(result).toMatchObject({ transferred: 5, failed: 0 });
    for (const module of [
      'src/cli/main.js',
      'src/worker/main.js',
      'activities/index.js',
      'src/providers/bird/provider.js',
      'src/transfer/transferFile.js',
    ])
      expect(loaded).toContain(module);
  });

  it('loads no simulator, no demo and no dev-stack module', () => {
    expect(loaded.filter((m) => /^src\/(simulators|demo|devstack)\//.test(m))).toEqual([]);
  });
});
