import { ApplicationFailure } from '@temporalio/activity';
import { ConfigurationError, CredentialsRejectedError, TransientError } from '../src/errors';

/**
 * Maps the error taxonomy onto Temporal (the fatal types are listed in workflows/contracts.ts): credentials and configuration problems are not retried
 * (and say what to fix), transient ones are retried with the source's Retry-After as the next delay.
 */
export function toActivityFailure(err: unknown, connection: string): unknown {
  if (err instanceof CredentialsRejectedError) {
    return ApplicationFailure.nonRetryable(
      `${err.message}. The platform refused the credentials of connection '${connection}': check its secret ` +
        `(connections.${connection} in the worker's configuration) and that the account has the required scope, then rerun the export.`,
      'CredentialsRejected',
    );
  }
  if (err instanceof ConfigurationError) {
    return ApplicationFailure.nonRetryable(err.message, 'ConfigurationError');
  }
  if (err instanceof TransientError) {
    return ApplicationFailure.create({
      message: err.message,
      type: 'Transient',
      nextRetryDelay: err.retryAfterMs !== undefined ? Math.max(err.retryAfterMs, 100) : undefined,
    });
  }
  return err;
}
