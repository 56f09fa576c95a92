import { Readable } from 'node:stream';
import { CredentialsRejectedError, TransientError, parseRetryAfter } from '../../errors';
import { failForStatus, type HttpResponse } from '../../http/client';

/** Kore's rate-limit answer; the status code it comes with is not documented (429 has been seen). */
const RATE_LIMITED = /rate limit for this api has been reached/i;
const SCOPE = /scope is incorrect/i;
/** Kore's limit is per minute (and per hour): without a Retry-After, look again after a minute. */
const RATE_LIMIT_WAIT_MS = 60_000;
const EXCERPT_BYTES = 2048;

/** What a CredentialsRejectedError is `about` when the app lacks its API scope (the descriptor says how to add it). */
export const MISSING_SCOPE = 'scope';

/**
 * failForStatus, plus what only Kore's bodies tell: a rate limit whatever its status code, and a
 * missing API scope, which must say which scope to add rather than "bad credentials" (the
 * descriptor, src/providers/kore/index.ts, explains a refusal to the operator).
 */
export async function koreFailForStatus(res: HttpResponse, what: string, redact: readonly string[]): Promise<never> {
  const text = redacted(await readHead(res), redact);
  if (RATE_LIMITED.test(text)) {
    throw new TransientError(
      `${what}: HTTP ${res.status} (Rate limit for this API has been reached): rate limited`,
      parseRetryAfter(res.headers['retry-after']) ?? RATE_LIMIT_WAIT_MS,
    );
  }
  if ((res.status === 401 || res.status === 403) && res.credentialsSent && SCOPE.test(text)) {
    throw new CredentialsRejectedError(
      `${what}: HTTP ${res.status} (Scope is incorrect): the Kore.ai app of this connection lacks the "SmartAssist Recordings" API scope`,
      MISSING_SCOPE,
    );
  }
  // The body was read for the checks above; failForStatus gets the same bytes back.
  const replay = Object.assign(Readable.from([Buffer.from(text)]), { dump: async () => undefined, text: async () => text });
  return failForStatus({ ...res, body: replay }, what, redact);
}

async function readHead(res: HttpResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= EXCERPT_BYTES) break;
    }
  } catch {
    // The status code alone still classifies the failure.
  }
  res.body.destroy();
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
}

function redacted(text: string, redact: readonly string[]): string {
  for (const secret of redact) if (secret) text = text.split(secret).join('[redacted]');
  return text;
}
