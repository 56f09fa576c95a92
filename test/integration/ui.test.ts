import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startExport } from '../../src/client/exports';
import { startTemporal, type TemporalServer } from '../../src/devstack/temporal';
import { BirdSimulator } from '../../src/simulators/bird';
import type { ExportResult } from '../../src/contracts/exportResult';
import { EXPORT_WORKFLOW_TYPE } from '../../src/contracts/exportResult';
import { exportWorkflowId } from '../../src/contracts/exportInput';
import { eventually, exportEnv, uniqueName, type ExportEnv } from '../support/harness';
import { birdConnection } from '../support/birdConnection';

/** Debian's chromium package; scripts/setup.sh installs it. Never a downloaded browser build. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * An operator starts an export from the Temporal Web UI's Start Workflow form, in a real browser:
 * first with an input the form accepts but the workflow cannot use (it fails at once, naming the
 * field), then with a good one, which completes. Then the workflow list, filtered by connection
 * through the export's search attribute, and an export's failed files with their reasons. The dev
 * server here runs its UI, on ports this test chooses; a worker of the compiled code and a Bird
 * simulator stand behind it.
 */
describe('starting an export from the Temporal Web UI', () => {
  const connection = uniqueName('ui');
  const other = `${connection}-b`;
  const window = { from: '2026-05-04T00:00:00Z', to: '2026-05-05T00:00:00Z' };
  const otherWindow = { from: '2026-05-06T00:00:00.000Z', to: '2026-05-07T00:00:00.000Z' };
  const recordings = BirdSimulator.generate({ seed: connection, count: 5, ...window, size: { min: 500, max: 5000 } });
  // The other connection's day: one recording the platform lost, one that always answers 503 (given up).
  const otherRecordings = BirdSimulator.generate({
    seed: other,
    count: 4,
    ...otherWindow,
    size: { min: 500, max: 5000 },
    statuses: { absent: 1 },
  });
  let dataDir: string;
  let temporal: TemporalServer;
  let connectionToUi: Connection;
  let client: Client;
  let sim: BirdSimulator;
  let env: ExportEnv;
  let browser: Browser;
  let page: Page;
  let failed = false;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: \`npm run setup\` installs Debian's chromium package (as root), or run \`sudo apt-get install chromium\``,
      );
    }
    dataDir = mkdtempSync(join(tmpdir(), 'callvault-ui-'));
    sim = new BirdSimulator({ seed: connection, recordings: [...recordings, ...otherRecordings] });
    [temporal] = await Promise.all([startTemporal({ dataDir, headless: false, dbFile: null }), sim.start()]);
    connectionToUi = await Connection.connect({ address: temporal.address });
    client = new Client({ connection: connectionToUi, namespace: 'default' });
    const bird = birdConnection(sim);
    env = await exportEnv({ connections: { [connection]: bird, [other]: bird }, secrets: { BIRD_KEY: sim.accessKey } });
    // The worker serves this test's Temporal (the one with the UI); storage and provenance are the shared ones.
    await env.spawnWorker({ TEMPORAL_ADDRESS: temporal.address });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    failed = true;
    await page
      ?.screenshot({ path: join(dataDir, `failed-${ctx.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`), fullPage: true })
      .catch(() => undefined);
  });

  afterAll(async () => {
    if (page) await page.screenshot({ path: join(dataDir, 'last.png'), fullPage: true }).catch(() => undefined);
    await browser?.close();
    await env?.close();
    await connectionToUi?.close();
    await temporal?.stop();
    await sim?.stop();
    // Screenshots of each step (and the dev server's log) stay for debugging when something failed.
    if (failed || process.env.CALLVAULT_KEEP_UI_SCREENSHOTS) console.log(`UI test screenshots and logs: ${dataDir}`);
    else if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Fills the Start Workflow form as a person would and presses Start Workflow. */
  async function startFromForm(workflowId: string, input: unknown): Promise<void> {
    await page.goto(`${temporal.uiUrl}/namespaces/default/workflows/start-workflow`, { waitUntil: 'networkidle' });
    await page.locator('#workflowId').fill(workflowId);
    await page.locator('#taskQueue').fill(env.config.temporal.taskQueue);
    await page.locator('#workflowType').fill(EXPORT_WORKFLOW_TYPE);
    const data = page.getByRole('textbox', { name: 'Data' });
    await data.click();
    await page.keyboard.insertText(JSON.stringify(input, null, 2));
    // Leaving the editor reformats the JSON and moves the button: leave it first, then press.
    await page.getByRole('heading', { name: /Start (a )?Workflow/ }).click();
    await expect.poll(() => page.getByText('Task Queue is Active').isVisible(), { timeout: 15_000 }).toBe(true);
    const start = page.getByRole('button', { name: 'Start Workflow' });
    expect(await start.isEnabled()).toBe(true);
    await start.click();
    await page
      .getByText(/started successfully|Workflow started/i)
      .first()
      .waitFor({ timeout: 15_000 });
  }

  /** Opens the workflow's page and waits until the UI shows it ended with this status. */
  async function uiShows(workflowId: string, status: 'Completed' | 'Failed'): Promise<void> {
    const url = `${temporal.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
    await expect
      .poll(
        async () => {
          await page.goto(url, { waitUntil: 'networkidle' });
          return page.getByText(status, { exact: true }).first().isVisible();
        },
        { timeout: 60_000, interval: 1_000 },
      )
      .toBe(true);
  }

  it('runs a UI whose Start Workflow form is enabled', async () => {
    const settings = (await (await fetch(`${temporal.uiUrl}/api/v1/settings`)).json()) as Record<string, unknown>;
    expect(settings.StartWorkflowDisabled).toBe(false);
    expect(settings.DisableWriteActions).toBe(false);
  });

  it('fails an input the form accepts but the workflow cannot use at once, naming the field', async () => {
    const workflowId = uniqueName('ui-bad');
    await startFromForm(workflowId, { connection, from: window.to, to: window.from });
    await uiShows(workflowId, 'Failed');
    // The workflow's own message, on the workflow's page.
    await page
      .getByText(/invalid export input: to: must be later than from/)
      .first()
      .waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(dataDir, 'invalid-input.png'), fullPage: true });
    const description = await client.workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('FAILED');
    await expect(client.workflow.getHandle(workflowId).result()).rejects.toThrow();
  });

  it('starts an export from the form and shows it completed', async () => {
    const workflowId = exportWorkflowId({ connection, from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() });
    await startFromForm(workflowId, { connection, ...window, trigger: { kind: 'operator', by: 'ui-test' } });
    await uiShows(workflowId, 'Completed');
    await page.screenshot({ path: join(dataDir, 'completed.png'), fullPage: true });
    const result = (await client.workflow.getHandle(workflowId).result()) as ExportResult;
    expect(result).toMatchObject({ workflowId, connection, listed: recordings.length, transferred: recordings.length, failed: 0 });
    const rows = await eventually('provenance of the UI export', async () => {
      const r = await env.files(connection);
      return r.length === recordings.length ? r : undefined;
    });
    expect(rows.every((r) => r.status === 'stored' && r.workflow_id === workflowId)).toBe(true);
    const exportRow = await env.provenance.pool.query(
      `SELECT trigger_kind, triggered_by, status FROM callvault.exports WHERE workflow_id = $1`,
      [workflowId],
    );
    expect(exportRow.rows).toEqual([{ trigger_kind: 'operator', triggered_by: 'ui-test', status: 'completed' }]);
  });

  /** Every frame's text (the UI renders summary and details markdown in sandboxed iframes), with its typographic quotes made plain. */
  async function allText(): Promise<string> {
    const texts = await Promise.all(
      page.frames().map((f) =>
        f
          .locator('body')
          .innerText()
          .catch(() => ''),
      ),
    );
    return texts
      .join('\n')
      .replace(/[\u2018\u2019]/g, "'")
      .replace(/[\u201c\u201d]/g, '"');
  }

  /** The workflow list filtered by a visibility query, as an operator would type it; the ids it shows. */
  async function listedIds(query: string, expected: string): Promise<string> {
    const url = `${temporal.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
    await expect
      .poll(
        async () => {
          await page.goto(url, { waitUntil: 'networkidle' });
          return page.getByText(expected).first().isVisible();
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toBe(true);
    return page.locator('body').innerText();
  }

  it("filters the workflow list by connection through the export's search attribute", async () => {
    for (const r of otherRecordings.slice(2, 3))
      sim.faults.add({ target: 'media', id: r.id, fault: { kind: 'status', status: 503 }, times: Infinity });
    // On this test's Temporal (the one with the UI), which env.start would not reach.
    const started = await startExport(client, env.config.temporal.taskQueue, {
      connection: other,
      ...otherWindow,
      trigger: { kind: 'cli', by: 'ui-test' },
      options: { maxAttempts: 2, maxRetryIntervalSeconds: 1 },
    });
    await started.handle.result();
    const mine = exportWorkflowId({ connection, from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() });
    // The export started from the form above set its attributes itself: no client put them there.
    const filtered = await listedIds(`CallvaultConnection="${connection}"`, mine);
    expect(filtered).toContain('CallvaultConnection');
    expect(filtered).not.toContain(started.workflowId);
    await page.screenshot({ path: join(dataDir, 'list-by-connection.png'), fullPage: true });
    const theirs = await listedIds(
      `CallvaultConnection="${other}" AND CallvaultState="completed_with_given_up" AND CallvaultFailedCount=2`,
      started.workflowId,
    );
    expect(theirs).not.toContain(mine);
  });

  it("shows an export's summary and its failed files with their reasons", async () => {
    const workflowId = exportWorkflowId({ connection: other, ...otherWindow });
    const absent = otherRecordings.find((r) => r.status === 'absent')!;
    const flaky = otherRecordings[2]!;
    await page.goto(`${temporal.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`, { waitUntil: 'domcontentloaded' });
    await page.getByText('User Metadata').first().click();
    // Current details come from a query the worker answers, rendered as markdown in a frame that the UI
    // re-renders on refresh; the assertions read the one snapshot in which the details had arrived.
    let text = '';
    await expect
      .poll(
        async () => {
          text = await allText();
          return text;
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toContain('Failed files');
    await page.screenshot({ path: join(dataDir, 'failed-files.png'), fullPage: true });
    expect(text).toContain(`${other} 2026-05-06 → 2026-05-07 (cli: ui-test)`);
    expect(text).toContain('Completed, some files given up');
    expect(text).toContain(`${absent.id}: Bird connection '${other}': recording ${absent.id}: Bird reports status 'absent'`);
    expect(text).toMatch(new RegExp(`${flaky.id}: gave up after 2 tries: .*HTTP 503`));
    // The same failures, grouped by code, in the result and the `failures` query.
    const failures = await client.workflow
      .getHandle(workflowId)
      .query<{ groups: Array<{ code: string; sample: Array<{ sourceId: string }> }> }>('failures');
    expect(failures.groups.map((g) => [g.code, g.sample.map((s) => s.sourceId)])).toEqual([
      ['provider_final_status', [absent.id]],
      ['gave_up', [flaky.id]],
    ]);
  });
});
