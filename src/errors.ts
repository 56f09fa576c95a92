/**
 * The error taxonomy every layer speaks. Providers and the HTTP layer throw these; the activity
 * layer maps them onto Temporal failures (activities/failures.ts). Keeping the classification in
 * one place is what lets a 401 stop an export while a 503 merely retries.
 */
import type { UnavailableReason } from './contracts/failures';

/**
 * Credentials were refused or lack a scope: retrying cannot help, the export must stop. The
 * provider's descriptor explains it to the operator once (`explainCredentialFailure`); `about`
 * tells it, in the provider's own terms, what was refused (Dixa's exports API or files, Kore's scope).
 */
export class CredentialsRejectedError extends Error {
  override readonly name = 'CredentialsRejectedError';
  constructor(
    message: string,
    readonly about?: string,
  ) {
    super(message);
  }
}

/** The configuration is unusable (unknown connection, missing secret, bad URL). */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** A transient condition (5xx, reset, short body, expired signed link). Retry with backoff. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(
    message: string,
    /** Milliseconds the source asked us to wait (Retry-After), when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** This one file can never be fetched (404/410, provider says absent/failed, link refused). */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
  constructor(
    message: string,
    readonly reason: UnavailableReason,
  ) {
    super(message);
  }
}

/** Parses a Retry-After header (seconds or HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
