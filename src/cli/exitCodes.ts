import type { ExportOutcome } from '../contracts/exportFailures';

/**
 * Exit codes of `export start`, `status`, `failures`, `retry` and `cancel`, for scripts (README,
 * "The CLI"). A script tells apart a window that is done, one whose missing files the platform
 * says are gone for good, and one with files given up that a retry may still fetch.
 */
export const EXIT = {
  /** Completed: every listed file is stored (by this run or an earlier one). */
  completed: 0,
  /** An error: a bad flag, a server out of reach, an export that failed or was cancelled. */
  error: 1,
  /** No such export (in Temporal or in provenance). */
  unknown: 2,
  /** Completed, with files the platform says are gone for good (404/410, absent, failed, refused links). */
  finalFailures: 3,
  /** Completed, with files given up (their tries spent, or not ready in time): `export retry` fetches them again. */
  givenUp: 4,
  /** Still running (`export status`). */
  running: 5,
} as const;

export function exitCodeFor(outcome: ExportOutcome): number {
  if (outcome === 'completed_with_given_up') return EXIT.givenUp;
  return outcome === 'completed_with_final_failures' ? EXIT.finalFailures : EXIT.completed;
}

/** The line of help every command with these codes shows. */
export const EXIT_CODES_HELP =
  '\nExit codes: 0 completed, 1 error (or the export failed or was cancelled), 2 no such export, 3 completed with files the platform says are gone, 4 completed with files given up (export retry fetches them), 5 still running.';

/** Exit codes of `callvault erase` and `callvault hold`. */
export const ERASE_EXIT = {
  /** Every matched file was erased (held, released; dry run: would be). */
  done: 0,
  /** An error: a bad flag, a server out of reach, the erase workflow failed. */
  error: 1,
  /** The selection matched no file (none in provenance, or all erased before). */
  nothingMatched: 2,
  /** Some files were refused (a legal hold, a retention in force): the others were erased. */
  refused: 3,
} as const;

export const ERASE_EXIT_HELP = '\nExit codes: 0 done, 1 error, 2 no file matched, 3 some files refused (held or locked; erase only).';
