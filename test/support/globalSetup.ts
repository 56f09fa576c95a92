import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createScratchDatabase } from '../../src/devstack/postgres';
import { startSeaweed } from '../../src/devstack/seaweed';
import { startTemporal } from '../../src/devstack/temporal';
import type { TestStack } from './stack';

const repo = join(__dirname, '..', '..');

/**
 * One real stack for the integration run: a Temporal dev server, SeaweedFS and a scratch
 * database, on ports chosen here, in a temporary folder; all of it stopped and removed at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  for (const built of ['dist/src/worker/main.js', 'dist/workflow-bundle.js']) {
    if (!existsSync(join(repo, built))) throw new Error(`${built} is missing: run \`npm run build\` (npm test does it for you)`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'callvault-test-'));
  const started: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const stop of started.reverse()) await stop().catch((err: unknown) => console.error('teardown:', err));
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const [temporal, seaweed, database] = await Promise.all([
      startTemporal({
        dataDir,
        headless: true,
        dbFile: join(dataDir, 'temporal.db'),
        logFile: join(dataDir, 'temporal.log'),
        // Small thresholds make continue-as-new happen in tests of a few hundred files, on the real server.
        dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 400 },
      }),
      startSeaweed({ dataDir: join(dataDir, 'seaweed'), logFile: join(dataDir, 'seaweed.log') }),
      createScratchDatabase(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', 'callvault_test'),
    ]);
    started.push(
      () => temporal.stop(),
      () => seaweed.stop(),
      () => database.drop(),
    );
    const stack: TestStack = { temporalAddress: temporal.address, s3Endpoint: seaweed.endpoint, databaseUrl: database.url, dataDir };
    project.provide('stack', stack);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
