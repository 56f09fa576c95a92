import { ApplicationFailure } from '@temporalio/activity';
import { DatabaseError } from 'pg';
import { escaped } from '../src/contracts/names';
import { ConfigurationError, CredentialsRejectedError, TransientError } from '../src/errors';
import { FailureType } from '../src/contracts/failures';

/**
 * SQLSTATEs that say the data itself is wrong, so the same statement fails the same way on every
 * attempt: class 22 (data exception: a NUL byte, a date out of range, a number too large), the
 * class 23 codes that are about one row's values (NOT NULL, CHECK), and 54000 (a value too large
 * for an index). Unique and foreign-key violations (23505, 23503) are left retryable: concurrent
 * writers cause them, and a retry sees the other row.
 */
export function isDataRejection(err: unknown): err is DatabaseError {
  if (!(err instanceof DatabaseError) || typeof err.code !== 'string') return false;
  return err.code.startsWith('22') || err.code === '23502' || err.code === '23514' || err.code === '54000';
}

/**
 * Maps the error taxonomy onto Temporal (the fatal types are listed in src/contracts/failures.ts):
 * refused credentials and configuration problems are not retried (a refusal's message, explained
 * once by the provider's descriptor, says what to fix), transient ones are retried with the
 * source's Retry-After as the next delay, and data Postgres refuses is not retried either (the same
 * row fails the same way for ever).
 */
/**
 * The worker is stopping: a transfer hands its work back once the part (or small file) in flight
 * is stored and checkpointed. Retried at once, on another worker, from that checkpoint.
 */
export class WorkerDraining extends Error {
  override readonly name = 'WorkerDraining';

  constructor(
    /** Files of the batch finished before the stop; the one in progress and those after it go back. */
    readonly filesDone: number,
    readonly filesLeft: number,
    filesInBatch: number,
  ) {
    super(`the worker is shutting down: ${filesLeft} of ${filesInBatch} files handed back to resume elsewhere`);
  }
}

export function toActivityFailure(err: unknown): unknown {
  if (err instanceof WorkerDraining)
    return ApplicationFailure.create({ message: err.message, type: FailureType.WorkerShutdown, nextRetryDelay: '1 second' });
  if (err instanceof CredentialsRejectedError) return ApplicationFailure.nonRetryable(err.message, FailureType.CredentialsRejected);
  if (err instanceof ConfigurationError) {
    return ApplicationFailure.nonRetryable(err.message, FailureType.Configuration);
  }
  if (isDataRejection(err)) {
    return ApplicationFailure.nonRetryable(
      `the database refused the data (SQLSTATE ${err.code}): ${escaped(err.message, 300)}`,
      FailureType.DataRejected,
    );
  }
  if (err instanceof TransientError) {
    return ApplicationFailure.create({
      message: err.message,
      type: FailureType.Transient,
      nextRetryDelay: err.retryAfterMs !== undefined ? Math.max(err.retryAfterMs, 100) : undefined,
    });
  }
  return err;
}
