/**
 * The vocabulary of failure every layer shares: the `type` names of the Temporal failures
 * callvault raises, which of them no retry can fix, and why a file could not be exported.
 * Node-free: workflows list the non-retryable types, activities raise them, provenance stores the
 * codes.
 */

/** The `type` of every ApplicationFailure callvault raises or reads, by what it means. */
export const FailureType = {
  /** The platform refused the connection's credentials or scope: the export stops. */
  CredentialsRejected: 'CredentialsRejected',
  /** The configuration cannot serve the request (unknown connection, missing secret). */
  Configuration: 'ConfigurationError',
  /** A workflow input (or carried state) that fails validation. */
  InvalidInput: 'InvalidInput',
  /** Data Postgres refuses, the same way on every attempt. */
  DataRejected: 'DataRejected',
  /** A workflow the request names does not exist. */
  NotFound: 'NotFound',
  /** Worth another try, after the platform's Retry-After when it gave one. */
  Transient: 'Transient',
  /** An export (or the export a scheduled run waited for) ended without completing. */
  ExportFailed: 'ExportFailed',
  /** A workflow's own bug, ended rather than retried for ever. */
  Internal: 'InternalError',
  /** An activity's failure without a type of its own. */
  ActivityFailed: 'ActivityFailed',
  /** The worker stopped (SIGTERM): the activity handed its work back after the part in flight; another worker resumes it. */
  WorkerShutdown: 'WorkerShutdown',
} as const;

/** Failure types that stop an export: retrying cannot fix them. Activities raise them (activities/failures.ts). */
export const FATAL_FAILURE_TYPES: string[] = [FailureType.CredentialsRejected, FailureType.Configuration];

/**
 * Failure types no retry can fix (activities/failures.ts raises them): bad input, data Postgres
 * refuses, an unknown name. Every workflow lists them as non-retryable, so nothing retries for ever.
 */
export const DETERMINISTIC_FAILURE_TYPES: string[] = [
  FailureType.InvalidInput,
  FailureType.Configuration,
  FailureType.DataRejected,
  FailureType.NotFound,
];

/** Why one file can never be fetched: the platform's final word (404/410, a final status, a refused or unusable link). */
export const UNAVAILABLE_REASONS = ['not_found', 'provider_final_status', 'refused_link', 'malformed'] as const;
export type UnavailableReason = (typeof UNAVAILABLE_REASONS)[number];

/** Why callvault gave a file up: its own tries spent, or not ready for longer than it waits. */
export const GIVE_UP_CODES = ['gave_up', 'not_ready_timeout'] as const;
export type GiveUpCode = (typeof GIVE_UP_CODES)[number];

/** Why a file could not be exported, as provenance keeps it: the platform's final word, or callvault giving up. */
export type FailureCode = UnavailableReason | GiveUpCode;

/** The codes that are the platform's final word: giving up never overwrites them. */
export const FINAL_FAILURE_CODES: readonly FailureCode[] = UNAVAILABLE_REASONS;

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
