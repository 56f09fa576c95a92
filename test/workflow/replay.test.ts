import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * Safe deploys: the histories recorded from real runs (scripts/recordHistories.ts, one set per
 * version of the workflow code, in test/replay/histories/) replay against the workflow code of
 * this checkout. A change that would make a running export fail on its next workflow task fails
 * here first. README, "Changing workflow code", is the rule this enforces.
 */
const repo = join(__dirname, '..', '..');
const HISTORIES = join(repo, 'test', 'replay', 'histories');
const BUNDLE = join(repo, 'dist', 'workflow-bundle.js');
const WORKFLOW_TYPES = ['exportWorkflow', 'scheduledExportWorkflow', 'retentionSweepWorkflow', 'eraseWorkflow'];

interface HistoryJson {
  events: Array<
    Record<
      string,
      { workflowType?: { name: string }; markerName?: string; details?: Record<string, { payloads?: Array<{ data?: string }> }> } | string
    >
  >;
}

/** A fixture as scripts/recordHistories.ts writes it: what Worker.runReplayHistories takes, and where it came from. */
interface Fixture {
  file: string;
  workflowId: string;
  history: HistoryJson;
  workflowType: string;
  patches: string[];
}

function loadFixtures(): Fixture[] {
  return readdirSync(HISTORIES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const { workflowId, history } = JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')) as {
        workflowId: string;
        history: HistoryJson;
      };
      const started = history.events[0]?.workflowExecutionStartedEventAttributes;
      const workflowType = typeof started === 'object' ? (started.workflowType?.name ?? '') : '';
      return { file, workflowId, history, workflowType, patches: patchIds(history) };
    });
}

/** The patch ids a history's markers carry (patched() and deprecatePatch() record them). */
function patchIds(history: HistoryJson): string[] {
  const ids: string[] = [];
  for (const event of history.events) {
    const marker = event.markerRecordedEventAttributes;
    if (typeof marker !== 'object' || marker.markerName !== 'core_patch') continue;
    const data = marker.details?.['patch-data']?.payloads?.[0]?.data;
    if (data) ids.push((JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id);
  }
  return ids;
}

/** The patch ids the workflow code of this checkout asks about, by kind. */
function patchesInCode(): { patched: string[]; deprecated: string[]; notLiteral: string[] } {
  const dir = join(repo, 'workflows');
  const source = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  const ids = (re: RegExp) => [...new Set([...source.matchAll(re)].map((m) => m[1]!))];
  return {
    patched: ids(/\bpatched\(\s*'([^']+)'\s*\)/g),
    deprecated: ids(/\bdeprecatePatch\(\s*'([^']+)'\s*\)/g),
    // A patch id this test cannot read is a patch it cannot check.
    notLiteral: [...source.matchAll(/\b(?:patched|deprecatePatch)\(\s*([^'\s)][^)]*)\)/g)].map((m) => m[0]),
  };
}

async function replay(bundle: { codePath: string } | { code: string }, fixtures: Fixture[]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const byId = new Map(fixtures.map((f) => [f.workflowId, f.file]));
  const histories = fixtures.map((f) => ({ workflowId: f.workflowId, history: f.history }));
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle }, histories as never))
    results.push({ ...r, workflowId: byId.get(r.workflowId) ?? r.workflowId });
  return results;
}

const failures = (results: ReplayResult[]) =>
  results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error!.name}: ${r.error!.message.split('\n')[0]}`);

let fixtures: Fixture[];

beforeAll(() => {
  try {
    // Replay failures are the point of two tests here: keep the worker's own warnings about them out of the output.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // Installed already in this process.
  }
  fixtures = loadFixtures();
});

describe("recorded histories replay against this checkout's workflow code", () => {
  it('has histories of every workflow type, from real runs', () => {
    expect(new Set(fixtures.map((f) => f.workflowType))).toEqual(new Set(WORKFLOW_TYPES));
  });

  it('replays every recorded history without a determinism error', async () => {
    const results = await replay({ codePath: BUNDLE }, fixtures);
    expect(results).toHaveLength(fixtures.length);
    expect(failures(results)).toEqual([]);
  });

  it('has, for each patch in the code, a history recorded with it and one from before it', () => {
    const { patched, notLiteral } = patchesInCode();
    expect(notLiteral, 'write patch ids as string literals').toEqual([]);
    const missing: string[] = [];
    for (const id of patched) {
      if (!fixtures.some((f) => f.patches.includes(id)))
        missing.push(`${id}: no history recorded with it (npm run record-histories -- --label <next>)`);
      if (!fixtures.some((f) => f.workflowType === 'exportWorkflow' && !f.patches.includes(id)))
        missing.push(`${id}: no history from before it is kept`);
    }
    expect(missing).toEqual([]);
  });
});

describe('the replay test can fail', () => {
  const exportHistories = () => fixtures.filter((f) => f.workflowType === 'exportWorkflow');

  it('fails every export history on an activity call added before the first one', async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath: join(__dirname, '..', 'replay', 'variants', 'extraActivity.ts'),
      logger: quiet,
    });
    const results = await replay({ code }, exportHistories());
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) {
      expect(r.error, r.workflowId).toBeDefined();
      expect(`${r.error!.name}: ${r.error!.message}`, r.workflowId).toMatch(/DeterminismViolation|Nondeterminism|TMPRL1100/);
    }
  });

  it('passes the same change made behind patched()', async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath: join(__dirname, '..', 'replay', 'variants', 'patchedActivity.ts'),
      logger: quiet,
    });
    expect(failures(await replay({ code }, exportHistories()))).toEqual([]);
  });
});

const noop = () => undefined;
const quiet = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };
