import { SOURCE_KINDS, type SourceItem } from './sourceItem';
import type { ExportCounters } from './exportResult';
import { checkFailureSummary, type FailureSummary } from './exportFailures';
import type { TransferTask } from './transfer';
import { FieldProblems, type Field, boolean, field, number, object, oneOf, optional, string } from './fields';

/** A file the export still has to finish, with its own tries and last error. */
export interface FileTask extends TransferTask {
  lastError?: string;
  /**
   * Runs in a batch of its own: its batch failed as a whole (a worker crash, the store down), and
   * alone it can only fail for its own reasons, so a file that kills workers costs no other file.
   */
  alone?: boolean;
  /** Workflow time (ms) the platform first said "not ready", so the wait is bounded. */
  notReadySince?: number;
}

/** A file waiting for its time: the platform's "not ready yet", or the backoff after a failed try. */
export interface WaitingTask {
  task: FileTask;
  readyAt: number;
  why: 'not_ready' | 'retry';
  reason: string;
}

/** What a run hands the next when it continues as new: no batch is in flight then. */
export interface ExportSnapshot {
  counters: ExportCounters;
  cursor: string | null;
  listingDone: boolean;
  pagesListed: number;
  generation: number;
  queue: FileTask[];
  waiting: WaitingTask[];
  recentlyListed: string[];
  /** The failed files so far, per code with a sample (absent in state carried by older workers). */
  failures?: FailureSummary;
}

/** Source ids remembered from recent listing pages: a page that repeats one does not count it twice. */
export const RECENTLY_LISTED = 1_000;

/**
 * The export workflow's second argument: the state one run hands the next when it continues as
 * new. The workflow accepts it only on a run that did continue as new (workflowInfo() says so),
 * and checks it like any input anyway, so that nothing a person can start (the UI's form sends any
 * JSON) can fake counters, forge provenance or set a timer for the year 30,000.
 */
export class InvalidCarriedState extends Error {
  override readonly name = 'InvalidCarriedState';
}

/** Bounds a genuine run stays far inside (the workflow lists ahead at most 1,000 files). */
const MAX_TASKS = 20_000;
const MAX_ID = 2_000;
const MAX_TEXT = 4_000;
const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** No wait a genuine run sets is longer: an hour of backoff, a day of "not ready" polling. */
const MAX_WAIT_AHEAD_MS = 2 * 24 * 3600 * 1000;

export function parseCarriedState(raw: unknown, now: number): ExportSnapshot {
  const problems = new FieldProblems();
  const path = 'carried';
  const fields = object(raw, path, problems, [
    'counters',
    'cursor',
    'listingDone',
    'pagesListed',
    'generation',
    'queue',
    'waiting',
    'recentlyListed',
    'failures',
  ]);
  if (fields) {
    const counters = checkCounters(field(fields, path, 'counters'), problems);
    const cursorField = field(fields, path, 'cursor');
    const cursor = cursorField.value === null ? null : string(cursorField, problems, { max: 10_000 });
    const listingDone = boolean(field(fields, path, 'listingDone'), problems);
    const pagesListed = number(field(fields, path, 'pagesListed'), problems, { min: 0, max: MAX_COUNT, integer: true });
    const generation = number(field(fields, path, 'generation'), problems, { min: 0, max: 1_000_000, integer: true });
    const queue = list(field(fields, path, 'queue'), problems, MAX_TASKS, (f) => checkTask(f, problems, now));
    const waiting = list(field(fields, path, 'waiting'), problems, MAX_TASKS, (f) => checkWaiting(f, problems, now));
    const recentlyListed = list(field(fields, path, 'recentlyListed'), problems, RECENTLY_LISTED, (f) =>
      string(f, problems, { max: MAX_ID }),
    );
    const failures = optional(field(fields, path, 'failures'), (f) => checkFailureSummary(f, problems));
    if (counters && failures && failures.total > counters.failed) problems.add(`${path}.failures`, 'more failed files than counted');
    if (
      problems.ok &&
      counters &&
      cursor !== undefined &&
      listingDone !== undefined &&
      pagesListed !== undefined &&
      generation !== undefined &&
      queue &&
      waiting &&
      recentlyListed
    ) {
      return { counters, cursor, listingDone, pagesListed, generation, queue, waiting, recentlyListed, ...(failures ? { failures } : {}) };
    }
  }
  throw new InvalidCarriedState(`invalid carried state: ${problems.summary()}`);
}

function list<T>(f: Field, problems: FieldProblems, max: number, check: (f: Field) => T | undefined): T[] | undefined {
  if (!Array.isArray(f.value)) return problems.add(f.path, 'expected an array');
  if (f.value.length > max) return problems.add(f.path, `at most ${max} entries`);
  const out: T[] = [];
  f.value.forEach((value: unknown, i) => {
    const checked = check({ value, path: `${f.path}[${i}]` });
    if (checked !== undefined) out.push(checked);
  });
  return out.length === f.value.length ? out : undefined;
}

function checkCounters(f: Field, problems: FieldProblems): ExportCounters | undefined {
  const names = ['listed', 'transferred', 'skipped', 'failed', 'bytes'] as const;
  const fields = object(f.value, f.path, problems, names);
  if (!fields) return undefined;
  const out: Partial<ExportCounters> = {};
  for (const name of names) out[name] = number(field(fields, f.path, name), problems, { min: 0, max: MAX_COUNT, integer: true });
  if (names.some((n) => out[n] === undefined)) return undefined;
  const c = out as ExportCounters;
  if (c.transferred + c.skipped + c.failed > c.listed) return problems.add(f.path, 'more files finished than listed');
  return c;
}

function checkTask(f: Field, problems: FieldProblems, now: number): FileTask | undefined {
  const fields = object(f.value, f.path, problems, ['item', 'tries', 'lastError', 'alone', 'notReadySince']);
  if (!fields) return undefined;
  const item = checkItem(field(fields, f.path, 'item'), problems);
  const tries = number(field(fields, f.path, 'tries'), problems, { min: 0, max: 1_000, integer: true });
  const lastError = optional(field(fields, f.path, 'lastError'), (e) => string(e, problems, { max: MAX_TEXT }));
  const alone = optional(field(fields, f.path, 'alone'), (a) => boolean(a, problems));
  const notReadySince = optional(field(fields, f.path, 'notReadySince'), (n) =>
    number(n, problems, { min: now - 90 * 24 * 3600 * 1000, max: now }),
  );
  if (!item || tries === undefined) return undefined;
  return {
    item,
    tries,
    ...(lastError !== undefined ? { lastError } : {}),
    ...(alone ? { alone } : {}),
    ...(notReadySince !== undefined ? { notReadySince } : {}),
  };
}

function checkWaiting(f: Field, problems: FieldProblems, now: number): WaitingTask | undefined {
  const fields = object(f.value, f.path, problems, ['task', 'readyAt', 'why', 'reason']);
  if (!fields) return undefined;
  const task = checkTask(field(fields, f.path, 'task'), problems, now);
  const readyAt = number(field(fields, f.path, 'readyAt'), problems, { min: 0, max: now + MAX_WAIT_AHEAD_MS });
  const why = oneOf(field(fields, f.path, 'why'), problems, ['not_ready', 'retry'] as const);
  const reason = string(field(fields, f.path, 'reason'), problems, { max: MAX_TEXT });
  if (!task || readyAt === undefined || !why || reason === undefined) return undefined;
  return { task, readyAt, why, reason };
}

/** A listed file as a provider names it: identities and a credential-free locator, nothing else. */
function checkItem(f: Field, problems: FieldProblems): SourceItem | undefined {
  const fields = object(f.value, f.path, problems, [
    'sourceId',
    'conversationId',
    'messageId',
    'kind',
    'createdAt',
    'extension',
    'originalName',
    'locator',
  ]);
  if (!fields) return undefined;
  const sourceId = string(field(fields, f.path, 'sourceId'), problems, { max: MAX_ID });
  const conversationId = string(field(fields, f.path, 'conversationId'), problems, { max: MAX_ID });
  const messageId = optional(field(fields, f.path, 'messageId'), (m) => string(m, problems, { max: MAX_ID }));
  const kind = oneOf(field(fields, f.path, 'kind'), problems, SOURCE_KINDS);
  const createdAt = string(field(fields, f.path, 'createdAt'), problems, { max: 64 });
  const extension = optional(field(fields, f.path, 'extension'), (e) => string(e, problems, { max: 16 }));
  const originalName = optional(field(fields, f.path, 'originalName'), (n) => string(n, problems, { max: MAX_TEXT }));
  const locator = checkLocator(field(fields, f.path, 'locator'), problems);
  if (sourceId === undefined || conversationId === undefined || !kind || createdAt === undefined || !locator) return undefined;
  if (sourceId.length === 0) return problems.add(`${f.path}.sourceId`, 'must not be empty');
  return {
    sourceId,
    conversationId,
    kind,
    createdAt,
    locator,
    ...(messageId !== undefined ? { messageId } : {}),
    ...(extension !== undefined ? { extension } : {}),
    ...(originalName !== undefined ? { originalName } : {}),
  };
}

function checkLocator(f: Field, problems: FieldProblems): Record<string, string> | undefined {
  if (typeof f.value !== 'object' || f.value === null || Array.isArray(f.value)) return problems.add(f.path, 'expected an object');
  const entries = Object.entries(f.value as Record<string, unknown>);
  if (entries.length > 20) return problems.add(f.path, 'at most 20 entries');
  const locator: Record<string, string> = {};
  for (const [key, value] of entries) {
    const checked = string({ value, path: `${f.path}.${key}` }, problems, { max: MAX_TEXT });
    if (checked === undefined) return undefined;
    Object.defineProperty(locator, key, { value: checked, enumerable: true, writable: true, configurable: true });
  }
  return locator;
}
