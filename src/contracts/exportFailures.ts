import { defineQuery } from '@temporalio/workflow';
import { FINAL_FAILURE_CODES, GIVE_UP_CODES, type FailureCode } from './failures';
import { type FieldProblems, type Field, field, list, number, object, oneOf, string } from './fields';

/**
 * The failed files of an export as its result and its `failures` query show them (the Temporal UI,
 * `callvault export status`): counted per failure code, with a bounded sample of files and their
 * own reasons per code. Provenance has every failed file (`callvault export failures`); this is
 * what fits in a workflow result and rides along continue-as-new.
 */

/** A file recorded as failed, and why (its own reason, bounded). */
export interface FailedFile {
  sourceId: string;
  reason: string;
}

/** `unavailable`: a final failure reported before the code travelled with it (histories of older workers). */
export type FailureGroupCode = FailureCode | 'unavailable';

export interface FailureGroup {
  code: FailureGroupCode;
  /** The platform's final word (no retry will fetch it), as opposed to given up by callvault. */
  final: boolean;
  count: number;
  /** The first files of this code, each with its own reason; at most FAILURE_SAMPLE_PER_CODE. */
  sample: FailedFile[];
}

export interface FailureSummary {
  total: number;
  groups: FailureGroup[];
}

/** Files kept per code: enough to see what went wrong, bounded so a result stays small. */
export const FAILURE_SAMPLE_PER_CODE = 20;
/** Characters of a reason kept in the sample (provenance keeps 2,000). */
export const FAILURE_REASON_MAX = 300;

/** The order failure codes are shown in: the platform's final word first, then what callvault gave up. */
export const GROUP_CODES: readonly FailureGroupCode[] = [...FINAL_FAILURE_CODES, 'unavailable', ...GIVE_UP_CODES];

/** What each code means, for people (CLI, UI). */
export const FAILURE_CODE_MEANING: Record<FailureGroupCode, string> = {
  not_found: 'the platform answered 404 or 410',
  provider_final_status: "the platform's final status (absent, failed, media unavailable)",
  refused_link: 'a link to a host outside the allow-list',
  malformed: "the platform's data could not be used",
  unavailable: 'the platform says it is gone',
  gave_up: 'given up after its tries; `callvault export retry` fetches it again',
  not_ready_timeout: 'still not ready after the longest wait; `callvault export retry` looks again',
};

export function isFinalCode(code: string): boolean {
  return !(GIVE_UP_CODES as readonly string[]).includes(code);
}

export const EMPTY_FAILURES: FailureSummary = { total: 0, groups: [] };

export const failuresQuery = defineQuery<FailureSummary>('failures');

/** Where an export ended, by what its failed files say: the CLI's exit codes follow it (0, 3, 4). */
export type ExportOutcome = 'completed' | 'completed_with_final_failures' | 'completed_with_given_up';

/** Given-up files outrank final failures: they are the ones a retry can still fetch. */
export function outcomeOf(failures: { groups: ReadonlyArray<Pick<FailureGroup, 'count' | 'final'>> }): ExportOutcome {
  const counted = failures.groups.filter((g) => g.count > 0);
  if (counted.some((g) => !g.final)) return 'completed_with_given_up';
  return counted.length > 0 ? 'completed_with_final_failures' : 'completed';
}

/**
 * A failure summary being added to: counts per code, and the first files of each. Pure, so the
 * workflow keeps it across continue-as-new (in its carried state) and unit tests drive it.
 */
export class FailureSample {
  private readonly groups = new Map<FailureGroupCode, FailureGroup>();

  constructor(previous?: FailureSummary) {
    for (const g of previous?.groups ?? []) this.groups.set(g.code, { ...g, sample: [...g.sample] });
  }

  add(code: FailureGroupCode, sourceId: string, reason: string): void {
    let group = this.groups.get(code);
    if (!group) {
      group = { code, final: isFinalCode(code), count: 0, sample: [] };
      this.groups.set(code, group);
    }
    group.count++;
    if (group.sample.length < FAILURE_SAMPLE_PER_CODE) group.sample.push({ sourceId, reason: clip(reason, FAILURE_REASON_MAX) });
  }

  get total(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.count;
    return n;
  }

  summary(): FailureSummary {
    const groups = [...this.groups.values()].sort((a, b) => GROUP_CODES.indexOf(a.code) - GROUP_CODES.indexOf(b.code));
    return { total: this.total, groups: groups.map((g) => ({ ...g, sample: [...g.sample] })) };
  }
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Checks a failure summary carried across continue-as-new (the UI's form can send anything). */
export function checkFailureSummary(f: Field, problems: FieldProblems): FailureSummary | undefined {
  const fields = object(f.value, f.path, problems, ['total', 'groups']);
  if (!fields) return undefined;
  const total = number(field(fields, f.path, 'total'), problems, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const groups = list(field(fields, f.path, 'groups'), problems, GROUP_CODES.length, (g) => checkGroup(g, problems));
  if (total === undefined || !groups) return undefined;
  if (groups.reduce((n, g) => n + g.count, 0) !== total) return problems.add(f.path, 'total is not the sum of the groups');
  return { total, groups };
}

function checkGroup(f: Field, problems: FieldProblems): FailureGroup | undefined {
  const fields = object(f.value, f.path, problems, ['code', 'final', 'count', 'sample']);
  if (!fields) return undefined;
  const code = oneOf(field(fields, f.path, 'code'), problems, GROUP_CODES);
  const count = number(field(fields, f.path, 'count'), problems, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const sample = list(field(fields, f.path, 'sample'), problems, FAILURE_SAMPLE_PER_CODE, (s) => checkFile(s, problems));
  if (!code || count === undefined || !sample) return undefined;
  // `final` follows from the code; what was carried is not trusted.
  return { code, final: isFinalCode(code), count, sample };
}

function checkFile(f: Field, problems: FieldProblems): FailedFile | undefined {
  const fields = object(f.value, f.path, problems, ['sourceId', 'reason']);
  if (!fields) return undefined;
  const sourceId = string(field(fields, f.path, 'sourceId'), problems, { max: 2_000 });
  const reason = string(field(fields, f.path, 'reason'), problems, { max: FAILURE_REASON_MAX });
  return sourceId === undefined || reason === undefined ? undefined : { sourceId, reason };
}
