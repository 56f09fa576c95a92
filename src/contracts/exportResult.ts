import { defineQuery } from '@temporalio/workflow';
import type { ExportOutcome, FailureSummary } from './exportFailures';
import type { Window } from './window';

export const EXPORT_WORKFLOW_TYPE = 'exportWorkflow';

export interface ExportCounters {
  /** Files the listing returned. */
  listed: number;
  /** Files this export stored. */
  transferred: number;
  /** Files already stored by an earlier export (nothing fetched). */
  skipped: number;
  /** Files recorded as failed, with a reason, in provenance. */
  failed: number;
  /** Bytes this export stored. */
  bytes: number;
}

export interface ExportProgress extends ExportCounters {
  state: 'starting' | 'running' | 'completed' | 'failed';
  connection: string;
  window: Window;
  /** Files waiting because the platform said "not ready yet". */
  waiting: number;
  /** Files waiting to be tried again after a transient failure of their own. */
  retrying: number;
  inFlight: number;
  pagesListed: number;
  listingDone: boolean;
  /** How many times this export continued as new to keep its history small. */
  generation: number;
}

export interface ExportResult extends ExportCounters {
  workflowId: string;
  connection: string;
  window: Window;
  pagesListed: number;
  generation: number;
  /**
   * Completed, completed with files the platform says are gone, or with files given up (which
   * `callvault export retry` fetches again). Absent in results of exports that ended before it existed.
   */
  outcome?: ExportOutcome;
  /** The failed files per code, each with a sample of files and their reasons (absent: as outcome). */
  failures?: FailureSummary;
}

export const progressQuery = defineQuery<ExportProgress>('progress');

/** What starting an export did (the trigger activities). */
export interface StartedWindow {
  workflowId: string;
  /** False: an export of this window was already running, and nothing new was started. */
  started: boolean;
}

export type ExportStatus =
  | { state: 'running' }
  | { state: 'completed'; result: ExportResult }
  | { state: 'failed'; status: string; message: string };
