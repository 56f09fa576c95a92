/**
 * What the export workflow and the transfer activities (activities/transfer.ts) say to each other
 * about files: the tasks in, a result per file out, and the files the export gives up.
 */
import type { FailureCode, GiveUpCode, UnavailableReason } from './failures';
import type { SourceItem } from './sourceItem';

/** One file to transfer, and how many times it was tried before (its own failures). */
export interface TransferTask {
  item: SourceItem;
  tries: number;
}

export interface TransferBatchInput {
  connection: string;
  /** The export's first run id (see Execution.exportRun). */
  exportRun: string;
  tasks: TransferTask[];
}

/**
 * One file's result. Every file gets its own: a transient failure of one file is that file's
 * `retry`, and never fails the activity (and so its neighbours). The activity itself fails only
 * for what is no file's fault (the store or Postgres unreachable, a worker shutting down), or for
 * what stops the export (credentials, configuration).
 */
export type ItemResult =
  /** `discovered`: files this one revealed that the listing could not see (see DownloadOutcome). */
  | { sourceId: string; outcome: 'stored'; bytes: number; discovered?: SourceItem[]; discoveredStored?: number }
  /** Stored before, by another export: nothing fetched. */
  | { sourceId: string; outcome: 'already_stored' }
  | { sourceId: string; outcome: 'not_ready'; reason: string; retryAfterSeconds: number }
  /** Gone for good; a failure row with the reason is in provenance. (`code` is absent in results of older workers.) */
  | { sourceId: string; outcome: 'unavailable'; reason: string; code?: UnavailableReason }
  /** This file's try failed transiently (429, 5xx, cut, short, expired link): try it again later. */
  | { sourceId: string; outcome: 'retry'; reason: string; retryAfterSeconds?: number };

export interface GivenUp {
  item: SourceItem;
  code: GiveUpCode;
  reason: string;
}

export interface RecordFailuresInput {
  connection: string;
  exportRun: string;
  failures: GivenUp[];
}

/** What recording the given-up files found: most were failed, a few had been stored after all. */
export interface GivenUpRecorded {
  recorded: number;
  storedByThisExport: number;
  bytes: number;
  /**
   * The files recorded as failed, each with the code and reason its row now has (the platform's
   * final word where this export recorded one earlier). Absent in results of older workers.
   */
  failed?: Array<{ sourceId: string; code: FailureCode; reason: string }>;
}
