import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdSimulator } from '../../src/simulators/bird';
import { EXPORT_WORKFLOW_TYPE, type ExportResult } from '../../src/contracts/exportResult';
import { exportWorkflowId, parseExportInput } from '../../src/contracts/exportInput';
import { RETENTION_SWEEP_WORKFLOW_TYPE } from '../../src/contracts/retentionSweep';
import { SCHEDULED_EXPORT_WORKFLOW_TYPE, type ScheduledExportResult } from '../../src/contracts/scheduledExport';
import { eventually, exportEnv, uniqueName, type ExportEnv } from '../support/harness';
import { birdConnection } from '../support/birdConnection';

/**
 * Issue 11 on the real stack: hostile inputs started directly through Temporal, as anyone who can
 * open the Temporal UI could (both arguments of the export workflow, the retention sweep's input,
 * both arguments of the scheduled export). Each must end Failed within 60 s with a message that
 * names the field, leave nothing running, and leave its window free: a good start of the same
 * window afterwards starts a new run and completes. The counts by kind and verdict are printed
 * for the issue's closing note.
 */

const DAY = 86_400_000;
const FIRST_DAY = Date.UTC(2026, 0, 1);
const LIMIT_MS = 60_000;
const PARALLEL = 6;

type Kind = 'export input' | 'export carried state' | 'retention sweep input' | 'scheduled export input' | 'scheduled export carried state';

interface HostileCase {
  kind: Kind;
  name: string;
  /** The workflow's arguments; `C` is the test's connection, `W` the case's window. */
  args: (c: string, w: { from: string; to: string }) => unknown[];
  /** What the failure message must say: the field. */
  field: RegExp;
}

type Verdict = 'clear error' | 'unclear error' | 'accepted wrongly' | 'hang';

interface Outcome {
  verdict: Verdict;
  status: string;
  message: string;
  elapsedMs: number;
  /** What the good start of the same window did afterwards. */
  good: 'completed' | string;
  goodStartedNewRun: boolean;
  /** For exports: the callvault.exports row the failed start left (status and error), if any. */
  row?: { status: string; error: string | null };
}

const ok = (c: string, w: { from: string; to: string }) => ({ connection: c, ...w, trigger: { kind: 'operator', by: 'hostile-test' } });
const exportCase = (name: string, field: RegExp, input: (c: string, w: { from: string; to: string }) => unknown): HostileCase => ({
  kind: 'export input',
  name,
  field,
  args: (c, w) => [input(c, w)],
});
const carriedCase = (name: string, carried: unknown): HostileCase => ({
  kind: 'export carried state',
  name,
  // The lead's wording is theirs: any message that names the carried state (or that a run must have continued as new) names the field.
  field: /carried|continued/i,
  args: (c, w) => [ok(c, w), carried],
});
const sweepCase = (name: string, field: RegExp, input: (c: string) => unknown): HostileCase => ({
  kind: 'retention sweep input',
  name,
  field,
  args: (c) => [input(c)],
});
const scheduledCase = (name: string, field: RegExp, input: (c: string, at: string) => unknown): HostileCase => ({
  kind: 'scheduled export input',
  name,
  field,
  args: (c, w) => [input(c, w.to)],
});

const connection = uniqueName('hostile');
const days = 80;
const recordings = BirdSimulator.generate({
  seed: connection,
  count: 2 * days,
  from: new Date(FIRST_DAY).toISOString(),
  to: new Date(FIRST_DAY + days * DAY).toISOString(),
  size: { min: 100, max: 2000 },
});

const manyKeys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`junk${i}`, i]));
const counters = (listed: number, transferred: number) => ({ listed, transferred, skipped: 0, failed: 0, bytes: transferred });
const carriedBase = {
  counters: counters(0, 0),
  cursor: null,
  listingDone: false,
  pagesListed: 0,
  queue: [],
  deferred: [],
  notReadySince: {},
  generation: 1,
};

const CASES: HostileCase[] = [
  exportCase('impossible date 2026-02-31', /^invalid export input: from: 2026-02-31 is not a date in the calendar/, (c, w) => ({
    ...ok(c, w),
    from: '2026-02-31',
  })),
  exportCase('year 0000', /from: expected a date from 2000-01-01 to 2100-12-31/, (c, w) => ({ ...ok(c, w), from: '0000-01-01' })),
  exportCase('impossible end 2026-02-30', /to: 2026-02-30 is not a date/, (c, w) => ({ ...ok(c, w), to: '2026-02-30T00:00:00Z' })),
  exportCase('hour 25', /from: 25:00:00 is not a time of day/, (c, w) => ({ ...ok(c, w), from: '2026-01-01T25:00:00Z' })),
  exportCase('epoch milliseconds', /from: expected an ISO-8601 date .*got 1767225600000/, (c, w) => ({ ...ok(c, w), from: 1767225600000 })),
  exportCase('offset +15:00', /from: \+15:00 is not a UTC offset/, (c, w) => ({ ...ok(c, w), from: `${w.from.slice(0, 19)}+15:00` })),
  exportCase('byte order mark', /from: expected an ISO-8601 date/, (c, w) => ({ ...ok(c, w), from: `\uFEFF${w.from}` })),
  exportCase('window reversed', /to: must be later than from/, (c, w) => ({ ...ok(c, w), from: w.to, to: w.from })),
  exportCase('a century-long window', /to: a window is at most 3660 days/, (c, w) => ({
    ...ok(c, w),
    from: '2000-01-01',
    to: '2100-01-01',
  })),
  exportCase('connection constructor', /connection: unknown connection 'constructor'/, (c, w) => ({
    ...ok(c, w),
    connection: 'constructor',
  })),
  exportCase('connection __proto__', /connection: use 1-63 lowercase/, (c, w) => ({ ...ok(c, w), connection: '__proto__' })),
  exportCase('connection toString', /connection: use 1-63 lowercase/, (c, w) => ({ ...ok(c, w), connection: 'toString' })),
  exportCase('connection prototype', /connection: unknown connection 'prototype'/, (c, w) => ({ ...ok(c, w), connection: 'prototype' })),
  exportCase('unknown connection', /connection: unknown connection 'nope'/, (c, w) => ({ ...ok(c, w), connection: 'nope' })),
  exportCase('connection with ../', /connection: use 1-63 lowercase/, (c, w) => ({ ...ok(c, w), connection: '../etc' })),
  exportCase('NUL in trigger.by', /trigger\.by: control characters/, (c, w) => ({
    ...ok(c, w),
    trigger: { kind: 'operator', by: 'jane\u0000' },
  })),
  exportCase('bidi override in trigger.by', /trigger\.by: control characters/, (c, w) => ({
    ...ok(c, w),
    trigger: { kind: 'operator', by: 'evil\u202etxt.exe' },
  })),
  exportCase('unpaired surrogate in trigger.by', /trigger\.by: control characters, unpaired surrogates/, (c, w) => ({
    ...ok(c, w),
    trigger: { kind: 'operator', by: 'x\ud800' },
  })),
  exportCase('trigger.by of 201 characters', /trigger\.by: at most 200 characters/, (c, w) => ({
    ...ok(c, w),
    trigger: { kind: 'operator', by: 'x'.repeat(201) },
  })),
  exportCase('trigger.kind forged', /trigger\.kind: expected one of/, (c, w) => ({ ...ok(c, w), trigger: { kind: 'forged' } })),
  exportCase('trigger a string', /trigger: expected an object/, (c, w) => ({ ...ok(c, w), trigger: 'cli' })),
  exportCase('maxInFlight 1e9', /options\.maxInFlight: expected a number from 1 to 500/, (c, w) => ({
    ...ok(c, w),
    options: { maxInFlight: 1e9 },
  })),
  exportCase('heartbeat 0', /options\.heartbeatTimeoutSeconds: expected a number from 2 to 3600/, (c, w) => ({
    ...ok(c, w),
    options: { heartbeatTimeoutSeconds: 0 },
  })),
  exportCase('maxAttempts -1', /options\.maxAttempts: expected a number from 1 to 1000/, (c, w) => ({
    ...ok(c, w),
    options: { maxAttempts: -1 },
  })),
  exportCase('notReadyMaxWaitHours 1e15', /options\.notReadyMaxWaitHours: expected a number from 0 to 720/, (c, w) => ({
    ...ok(c, w),
    options: { notReadyMaxWaitHours: 1e15 },
  })),
  exportCase('option in hexadecimal text', /options\.maxRetryIntervalSeconds: expected a number, got '0x10'/, (c, w) => ({
    ...ok(c, w),
    options: { maxRetryIntervalSeconds: '0x10' },
  })),
  exportCase('options.__proto__', /options\.__proto__: unknown field/, (c, w) => ({
    ...ok(c, w),
    options: JSON.parse('{"__proto__":{"maxInFlight":1}}') as unknown,
  })),
  exportCase('a token field', /token: unknown field/, (c, w) => ({ ...ok(c, w), token: 'sk_live_123' })),
  exportCase('NUL in a key', /'\\u0000': unknown field/, (c, w) => ({ ...ok(c, w), '\u0000': 1 })),
  exportCase('ten thousand junk keys', /junk0: unknown field.*; and 9990 more$/, (c, w) => ({ ...ok(c, w), ...manyKeys })),
  exportCase('null', /input: expected an object, got null/, () => null),
  exportCase('a list', /input: expected an object, got a list/, (c, w) => [ok(c, w)]),
  exportCase('a string', /input: expected an object, got 'export please'/, () => 'export please'),
  exportCase('an empty object', /connection: expected a string, got undefined/, () => ({})),
  exportCase('from as an object', /from: expected an ISO-8601 date .*got an object/, (c, w) => ({ ...ok(c, w), from: { $date: w.from } })),

  carriedCase('forged counters (a completed export that listed nothing)', {
    ...carriedBase,
    counters: counters(1_000_000, 999_999),
    listingDone: true,
  }),
  carriedCase('queue: 5', { queue: 5 }),
  carriedCase('a deferred item ready in 30,000 years', {
    ...carriedBase,
    listingDone: true,
    deferred: [
      {
        item: { sourceId: 'x', conversationId: 'y', kind: 'recording', createdAt: '2026-01-01T00:00:00Z', locator: {} },
        readyAt: 1e15,
        firstSeenAt: 0,
        reason: 'wait',
      },
    ],
  }),
  carriedCase('forged provenance (a source id with ../, dated 1999)', {
    ...carriedBase,
    listingDone: true,
    queue: [
      {
        sourceId: 'FORGED-../../evil',
        conversationId: 'forged-conv',
        kind: 'recording',
        createdAt: '1999-01-01T00:00:00Z',
        locator: { recordingId: recordings[0]!.id },
      },
    ],
  }),
  carriedCase('a string', 'resume'),
  carriedCase('generation -1 and a cursor of junk', { ...carriedBase, generation: -1, cursor: { $ne: null } }),

  sweepCase('unknown connection', /connections\.0: unknown connection 'nope'/, () => ({ connections: ['nope'] })),
  sweepCase('connection constructor', /connections\.0: unknown connection 'constructor'/, () => ({ connections: ['constructor'] })),
  sweepCase('connection __proto__', /connections\.0: use 1-63 lowercase/, () => ({ connections: ['__proto__'] })),
  sweepCase('a connection listed twice', /connections\.1: '.*' is listed twice/, (c) => ({ connections: [c, c] })),
  sweepCase('now 2026-02-30', /now: 2026-02-30 is not a date in the calendar/, () => ({ now: '2026-02-30T00:00:00Z' })),
  sweepCase('now in year 0000', /now: expected a date from 2000-01-01/, () => ({ now: '0000-01-01T00:00:00Z' })),
  sweepCase('lookbackDays 1e9', /lookbackDays: expected a number from 0 to 366/, () => ({ lookbackDays: 1e9 })),
  sweepCase('NUL in by', /by: control characters/, () => ({ by: 'sweep\u0000' })),
  sweepCase('dryRun "yes"', /dryRun: expected true or false/, () => ({ dryRun: 'yes' })),
  sweepCase('options.maxInFlight 0', /options\.maxInFlight: expected a number from 1 to 500/, () => ({ options: { maxInFlight: 0 } })),
  sweepCase('connections a string', /connections: expected a list/, (c) => ({ connections: c })),
  sweepCase('null', /input: expected an object, got null/, () => null),
  sweepCase('a token field', /token: unknown field/, () => ({ token: 'abc' })),

  scheduledCase('cron 31 February', /cron: '0 3 31 2 \*' does not fire in every year/, (c) => ({ connection: c, cron: '0 3 31 2 *' })),
  scheduledCase('every 100000d', /every: expected 10s to 366d, got 100000d/, (c) => ({ connection: c, every: '100000d' })),
  scheduledCase('delay 3650d', /delay: expected 0s to 30d, got 3650d/, (c, at) => ({ connection: c, every: '1d', delay: '3650d', at })),
  scheduledCase('delay 100000d', /delay: expected 0s to 30d/, (c, at) => ({ connection: c, every: '1d', delay: '100000d', at })),
  scheduledCase('every 1s', /every: expected 10s to 366d, got 1s/, (c) => ({ connection: c, every: '1s' })),
  scheduledCase('connection constructor', /connection: unknown connection 'constructor'/, (_c, at) => ({
    connection: 'constructor',
    every: '1d',
    at,
  })),
  scheduledCase('at 2026-02-30', /at: 2026-02-30 is not a date in the calendar/, (c) => ({ connection: c, every: '1d', at: '2026-02-30' })),
  scheduledCase('schedule id with spaces and ../', /scheduleId: use 1-200 letters/, (c, at) => ({
    connection: c,
    every: '1d',
    scheduleId: 'my schedule/../x',
    at,
  })),
  scheduledCase('a time zone', /cron: time zones are not supported/, (c) => ({ connection: c, cron: 'TZ=Europe/Paris 0 0 * * *' })),
  scheduledCase('both every and cron', /every: give exactly one of `every` and `cron`/, (c, at) => ({
    connection: c,
    every: '1d',
    cron: '@daily',
    at,
  })),
  scheduledCase('at whose window starts in 1999', /at: gives the window 1999-12-31T00:00:00.000Z/, (c) => ({
    connection: c,
    every: '1d',
    at: '2000-01-01T06:00:00Z',
  })),
  {
    kind: 'scheduled export carried state',
    name: 'waiting state on a fresh run, polling every 30,000 years',
    field: /carried: only a run that continued as new carries state/,
    args: (c, w) => [
      { connection: c, every: '1d', at: w.to },
      { exportWorkflowId: exportWorkflowId({ connection: c, ...w }), started: true, scheduledAt: w.to, pollMs: 1e15 },
    ],
  },
  {
    kind: 'scheduled export carried state',
    name: 'waiting state a number',
    field: /carried: only a run that continued as new carries state/,
    args: (c, w) => [{ connection: c, every: '1d', at: w.to }, 5],
  },
];

const WORKFLOW_TYPES: Record<Kind, string> = {
  'export input': EXPORT_WORKFLOW_TYPE,
  'export carried state': EXPORT_WORKFLOW_TYPE,
  'retention sweep input': RETENTION_SWEEP_WORKFLOW_TYPE,
  'scheduled export input': SCHEDULED_EXPORT_WORKFLOW_TYPE,
  'scheduled export carried state': SCHEDULED_EXPORT_WORKFLOW_TYPE,
};

const keyOf = (c: HostileCase) => `${c.kind} / ${c.name}`;

describe('hostile inputs through the real Temporal server (issue 11)', () => {
  let sim: BirdSimulator;
  let env: ExportEnv;
  const outcomes = new Map<string, Outcome>();
  const started: WorkflowHandle[] = [];

  const windowOf = (i: number) => ({
    from: new Date(FIRST_DAY + i * DAY).toISOString(),
    to: new Date(FIRST_DAY + (i + 1) * DAY).toISOString(),
  });

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: connection, recordings });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: birdConnection(sim, { rateLimit: { transferPerSecond: 400 }, retention: { keepDays: 10, leadDays: 1 } }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
    });
    await env.spawnWorker();
    const queue = CASES.map((c, i) => ({ c, i }));
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) outcomes.set(keyOf(next.c), await runCase(next.c, next.i));
      }),
    );
  }, 20 * 60_000);

  afterAll(async () => {
    printSummary(outcomes);
    for (const h of started) await h.terminate('hostile test cleanup').catch(() => undefined);
    await env?.close();
    await sim?.stop();
  });

  async function runCase(c: HostileCase, i: number): Promise<Outcome> {
    const w = windowOf(i);
    const taskQueue = env.config.temporal.taskQueue;
    const args = c.args(connection, w);
    const workflowId = c.kind.startsWith('export') ? canonicalId(args[0], w) : `${taskQueue}-hostile-${i}`;
    const t0 = Date.now();
    const handle = await env.client.workflow.start(WORKFLOW_TYPES[c.kind], { taskQueue, workflowId, args });
    started.push(handle);
    const ended = await Promise.race([
      handle.result().then(
        () => 'completed',
        (err: unknown) => err,
      ),
      new Promise((r) => setTimeout(() => r('hang'), LIMIT_MS)),
    ]);
    const elapsedMs = Date.now() - t0;
    const status = (await handle.describe()).status.name;
    let verdict: Verdict;
    let message = '';
    if (ended === 'hang') {
      verdict = 'hang';
      await handle.terminate('hostile test: still running after 60 s');
    } else if (ended === 'completed') verdict = 'accepted wrongly';
    else {
      message = ended instanceof WorkflowFailedError && ended.cause ? ended.cause.message : String(ended);
      verdict = c.field.test(message) && status === 'FAILED' ? 'clear error' : 'unclear error';
    }
    const row = c.kind.startsWith('export') ? await exportsRow(workflowId) : undefined;
    const good = await goodStart(c, i, handle.firstExecutionRunId);
    return { verdict, status, message, elapsedMs, ...good, ...(row ? { row } : {}) };
  }

  async function exportsRow(workflowId: string): Promise<{ status: string; error: string | null } | undefined> {
    const res = await env.provenance.pool.query<{ status: string; error: string | null }>(
      'SELECT status, error FROM callvault.exports WHERE workflow_id = $1',
      [workflowId],
    );
    return res.rows[0];
  }

  /** The id an export input asks for (the window's lock), or the case's window's when the input names none. */
  function canonicalId(input: unknown, w: { from: string; to: string }): string {
    try {
      return exportWorkflowId(parseExportInput(input));
    } catch {
      return exportWorkflowId({ connection, ...w });
    }
  }

  /** The same window (or, for a sweep, the same connection) started properly right after. */
  async function goodStart(c: HostileCase, i: number, hostileRunId: string): Promise<Pick<Outcome, 'good' | 'goodStartedNewRun'>> {
    const w = windowOf(i);
    const taskQueue = env.config.temporal.taskQueue;
    try {
      if (c.kind === 'retention sweep input') {
        const h = await env.client.workflow.start(RETENTION_SWEEP_WORKFLOW_TYPE, {
          taskQueue,
          workflowId: `${taskQueue}-hostile-${i}`,
          args: [{ connections: [connection], dryRun: true, now: '2026-06-01T00:00:00Z' }],
        });
        started.push(h);
        await h.result();
        return { good: 'completed', goodStartedNewRun: h.firstExecutionRunId !== hostileRunId };
      }
      // Scheduled cases, and every other export case, go through the schedule's path: it too must
      // start a new export of a window whose last one failed or was terminated, not attach to it.
      if (c.kind.startsWith('scheduled') || i % 2 === 1) {
        const h = await env.client.workflow.start(SCHEDULED_EXPORT_WORKFLOW_TYPE, {
          taskQueue,
          workflowId: `${taskQueue}-hostile-good-${i}`,
          args: [{ connection, every: '1d', at: w.to }],
        });
        started.push(h);
        const result = (await h.result()) as ScheduledExportResult;
        expect(result.window).toEqual(w);
        const exportRun = await env.client.workflow.getHandle(result.exportWorkflowId).describe();
        return { good: 'completed', goodStartedNewRun: result.started && exportRun.runId !== hostileRunId };
      }
      const s = await env.start({ connection, ...w, trigger: { kind: 'operator', by: 'hostile-test' } });
      started.push(s.handle);
      const result = (await s.handle.result()) as ExportResult;
      expect(result.window).toEqual(w);
      return { good: 'completed', goodStartedNewRun: s.started && s.runId !== hostileRunId };
    } catch (err) {
      return { good: `failed: ${err instanceof Error ? err.message : String(err)}`, goodStartedNewRun: false };
    }
  }

  it.each(CASES.map((c) => [c.kind, c.name, c] as const))(
    '%s, %s: fails within 60 s naming the field; the same window then exports',
    (_kind, _name, c) => {
      const o = outcomes.get(keyOf(c));
      expect(o, 'the case ran').toBeDefined();
      expect(o!.verdict, `${o!.status}: ${o!.message}`).toBe('clear error');
      expect(o!.message).toMatch(c.field);
      expect(o!.message).not.toMatch(/[\u0000-\u001f]/);
      expect(o!.elapsedMs).toBeLessThan(LIMIT_MS);
      expect(o!.good).toBe('completed');
      expect(o!.goodStartedNewRun, 'the good start made a new run instead of attaching to the hostile one').toBe(true);
    },
  );

  it('tries at least 50 hostile inputs, of every kind', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
    expect(new Set(CASES.map((c) => c.kind)).size).toBe(Object.keys(WORKFLOW_TYPES).length);
    expect(new Set(CASES.map(keyOf)).size).toBe(CASES.length);
    expect(CASES.length + 2).toBeLessThanOrEqual(days);
  });

  it('leaves a callvault.exports row saying failed, and why, for every export that ended early', () => {
    const exportCases = CASES.filter((c) => c.kind.startsWith('export'));
    expect(exportCases.length).toBeGreaterThan(30);
    for (const c of exportCases) {
      const o = outcomes.get(keyOf(c))!;
      expect(o.row, c.name).toEqual({ status: 'failed', error: o.message });
    }
  });

  it('leaves nothing running on its task queue', async () => {
    for (const h of started) expect((await h.describe()).status.name, h.workflowId).not.toBe('RUNNING');
    const running = await eventually(
      'visibility to catch up',
      async () => {
        const list: string[] = [];
        for await (const wf of env.client.workflow.list({ query: `ExecutionStatus = 'Running'` }))
          if (wf.taskQueue === env.config.temporal.taskQueue) list.push(wf.workflowId);
        return list.length === 0 ? list : undefined;
      },
      30_000,
      1_000,
    ).catch((err: unknown) => err);
    expect(running).toEqual([]);
  });
});

function printSummary(outcomes: Map<string, Outcome>): void {
  const verdicts: Verdict[] = ['clear error', 'unclear error', 'accepted wrongly', 'hang'];
  const rows = new Map<Kind, Record<Verdict, number>>();
  for (const c of CASES) {
    const o = outcomes.get(keyOf(c));
    if (!o) continue;
    const row = rows.get(c.kind) ?? { 'clear error': 0, 'unclear error': 0, 'accepted wrongly': 0, hang: 0 };
    row[o.verdict]++;
    rows.set(c.kind, row);
  }
  const lines = [`hostile inputs through Temporal: ${outcomes.size} tried`];
  const total = { 'clear error': 0, 'unclear error': 0, 'accepted wrongly': 0, hang: 0 };
  for (const [kind, row] of rows) {
    const n = verdicts.reduce((s, v) => s + row[v], 0);
    lines.push(`  ${kind.padEnd(32)} ${String(n).padStart(3)}: ${verdicts.map((v) => `${row[v]} ${v}`).join(', ')}`);
    for (const v of verdicts) total[v] += row[v];
  }
  lines.push(`  ${'total'.padEnd(32)} ${String(outcomes.size).padStart(3)}: ${verdicts.map((v) => `${total[v]} ${v}`).join(', ')}`);
  const good = [...outcomes.values()].filter((o) => o.good === 'completed' && o.goodStartedNewRun).length;
  lines.push(`  good start of the same window afterwards: ${good} of ${outcomes.size} started a new run and completed`);
  for (const c of CASES) {
    const o = outcomes.get(keyOf(c));
    if (o && o.verdict !== 'clear error')
      lines.push(`  NOT CLEAR ${c.kind} / ${c.name}: ${o.verdict} (${o.status}) ${o.message.slice(0, 160)}`);
  }
  console.log(lines.join('\n'));
}
