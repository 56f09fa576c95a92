import { defineQuery } from '@temporalio/workflow';
import { checkConnectionName } from './exportInput';
import { FieldProblems, boolean, field, instant, list, object, optional, text, type Field } from './fields';
import { failTriggerInput as fail } from './triggerInput';

/**
 * Legal holds and erasure: which files (one connection's, by conversation, source id or window),
 * the erase workflow's one JSON argument, validated strictly like the export input, and what its
 * activities and result carry. Node-free: it crosses the workflow sandbox.
 */

export const ERASE_WORKFLOW_TYPE = 'eraseWorkflow';

/** Exactly one of: conversation ids, source ids, or a window `[from, to)` of the files' creation times. */
export interface FileSelection {
  conversationIds?: string[];
  sourceIds?: string[];
  from?: string;
  to?: string;
}

export interface EraseInput extends FileSelection {
  connection: string;
  /** Who asked (recorded in every tombstone). */
  by: string;
  /** Why (a GDPR request's reference, ...), recorded in every tombstone. */
  reason: string;
  /** Plan and report; delete nothing. */
  dryRun?: boolean;
}

export type ValidEraseInput = EraseInput & { dryRun: boolean };

/** Ids one request may name: a person's conversations, never a bulk list. A window covers more. */
export const MAX_SELECTED_IDS = 1000;
export const MAX_ID_LENGTH = 512;
export const MAX_BY = 200;
export const MAX_REASON = 1000;

/** Reads the selection fields of `fields` into `problems`; exactly one form must be given. */
export function checkFileSelection(fields: Record<string, unknown>, problems: FieldProblems): FileSelection {
  const ids = (key: string) => optional(field(fields, '', key), (f) => checkIds(f, problems));
  const selection: FileSelection = {
    conversationIds: ids('conversationIds'),
    sourceIds: ids('sourceIds'),
    from: optional(field(fields, '', 'from'), (f) => instant(f, problems)),
    to: optional(field(fields, '', 'to'), (f) => instant(f, problems)),
  };
  const given = ['conversationIds', 'sourceIds', 'from', 'to'].filter((k) => fields[k] !== undefined && Object.hasOwn(fields, k));
  const forms = new Set(given.map((k) => (k === 'to' ? 'from' : k)));
  if (forms.size === 0) problems.add('conversationIds', 'name the files: conversationIds, sourceIds, or a window (from and to)');
  else if (forms.size > 1) problems.add(given.join(', '), 'give one of conversationIds, sourceIds, or a window (from and to), not several');
  else if (forms.has('from') && (fields.from === undefined || fields.to === undefined))
    problems.add(fields.from === undefined ? 'from' : 'to', 'a window needs both from and to');
  if (selection.from && selection.to && selection.from >= selection.to) problems.add('to', 'must be later than from');
  return Object.fromEntries(Object.entries(selection).filter(([, v]) => v !== undefined)) as FileSelection;
}

function checkIds(f: Field, problems: FieldProblems): string[] | undefined {
  const ids = list(f, problems, MAX_SELECTED_IDS, (item) => text(item, problems, MAX_ID_LENGTH));
  if (ids && ids.length === 0) return problems.add(f.path, 'expected at least one id');
  return ids;
}

export function parseEraseInput(raw: unknown): ValidEraseInput {
  const problems = new FieldProblems();
  const fields = object(raw, '', problems, ['connection', 'conversationIds', 'sourceIds', 'from', 'to', 'by', 'reason', 'dryRun']);
  if (!fields) fail('erase input', problems);
  const connection = checkConnectionName(field(fields, '', 'connection'), problems);
  const selection = checkFileSelection(fields, problems);
  const by = text(field(fields, '', 'by'), problems, MAX_BY);
  const reason = text(field(fields, '', 'reason'), problems, MAX_REASON);
  const dryRun = optional(field(fields, '', 'dryRun'), (f) => boolean(f, problems)) ?? false;
  if (!problems.ok || connection === undefined || by === undefined || reason === undefined) fail('erase input', problems);
  return { connection, ...selection, by, reason, dryRun };
}

/** The selection part of a valid input. */
export function selectionOf(input: FileSelection): FileSelection {
  if (input.conversationIds) return { conversationIds: input.conversationIds };
  if (input.sourceIds) return { sourceIds: input.sourceIds };
  return { from: input.from, to: input.to };
}

/** One object version: a data object's, or a legacy `{key}.json` sidecar's. */
export interface ObjectVersionRef {
  key: string;
  versionId: string;
}

export interface PlanErasureInput {
  connection: string;
  selection: FileSelection;
  /** The last source id of the previous page; null for the first. */
  after: string | null;
  limit: number;
  /**
   * Read each file's object versions and their locks (a dry run's report). Without it, a page
   * is only the files: eraseFiles reads them anyway, under the lock on each row.
   */
  inspect?: boolean;
}

/** One file as planned: what would be deleted, or why it would be refused. */
export interface PlannedErasure {
  sourceId: string;
  conversationId: string;
  sha256: string | null;
  objects: ObjectVersionRef[];
  refused?: string;
}

export interface PlanErasureResult {
  files: PlannedErasure[];
  /** The cursor of the next page, or null after the last. */
  next: string | null;
}

export interface EraseFilesInput {
  connection: string;
  sourceIds: string[];
  by: string;
  reason: string;
  /** The erase workflow's id: the tombstones name it. */
  workflowId: string;
}

export type FileErasure =
  | { sourceId: string; outcome: 'erased'; deleted: ObjectVersionRef[] }
  | { sourceId: string; outcome: 'refused'; reason: string }
  /** Erased before (nothing of it left in the store), or no longer in provenance. */
  | { sourceId: string; outcome: 'gone' };

/** Files the result names one by one; the counts cover all of them. */
export const RESULT_SAMPLE = 100;

export interface EraseResult {
  connection: string;
  dryRun: boolean;
  /** Files the selection matched (not erased before, or erased with objects of theirs left). */
  matched: number;
  /** Erased (dry run: would be). */
  erased: number;
  refused: number;
  gone: number;
  /** Object versions deleted (dry run: would be). */
  versionsDeleted: number;
  /** The first erased (or, dry run, erasable) files with their object versions. */
  files: Array<{ sourceId: string; objects: ObjectVersionRef[] }>;
  /** The first refused files with the reason. */
  refusals: Array<{ sourceId: string; reason: string }>;
}

/** The erase workflow's counts so far (the CLI prints them as it goes). */
export const eraseProgressQuery = defineQuery<EraseResult>('progress');

export function emptyEraseResult(input: Pick<ValidEraseInput, 'connection' | 'dryRun'>): EraseResult {
  return {
    connection: input.connection,
    dryRun: input.dryRun,
    matched: 0,
    erased: 0,
    refused: 0,
    gone: 0,
    versionsDeleted: 0,
    files: [],
    refusals: [],
  };
}

/** Adds a planned page to a dry run's result: what would be erased or refused. */
export function tallyPlanned(result: EraseResult, files: readonly PlannedErasure[]): void {
  for (const f of files) {
    result.matched++;
    if (f.refused) refuse(result, f.sourceId, f.refused);
    else erased(result, f.sourceId, f.objects);
  }
}

/** Adds what eraseFiles did to a page of files. */
export function tallyErased(result: EraseResult, outcomes: readonly FileErasure[]): void {
  for (const o of outcomes) {
    // A file erased before with nothing of it left is no match, as a dry run's plan leaves it out.
    if (o.outcome === 'gone') result.gone++;
    else result.matched++;
    if (o.outcome === 'erased') erased(result, o.sourceId, o.deleted);
    else if (o.outcome === 'refused') refuse(result, o.sourceId, o.reason);
  }
}

function erased(result: EraseResult, sourceId: string, objects: ObjectVersionRef[]): void {
  result.erased++;
  result.versionsDeleted += objects.length;
  if (result.files.length < RESULT_SAMPLE) result.files.push({ sourceId, objects });
}

function refuse(result: EraseResult, sourceId: string, reason: string): void {
  result.refused++;
  if (result.refusals.length < RESULT_SAMPLE) result.refusals.push({ sourceId, reason });
}
