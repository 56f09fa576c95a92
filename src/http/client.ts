import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { ConfigurationError, CredentialsRejectedError, TransientError, UnavailableError, parseRetryAfter } from '../errors';
import { classifyHost, hostAllowed, withoutSecrets } from './hosts';
import { MiB } from '../contracts/units';

export interface HttpRequestOptions {
  method?: 'GET' | 'POST' | 'HEAD';
  url: string | URL;
  headers?: Record<string, string>;
  /** Sent only while the request stays on the origin of `url`; dropped on any cross-origin redirect. */
  credentialHeaders?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Host patterns a redirect may lead to, besides the starting origin. */
  redirectHosts?: readonly string[];
  maxRedirects?: number;
  /** For error messages: what this request was for ("Bird recording 123 metadata"). */
  what: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(opts?: { limit: number }): Promise<void>; text(): Promise<string> };
  /** The URL that finally answered (after redirects). */
  url: URL;
  /** Whether credentials were attached to the request that answered. */
  credentialsSent: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const ignore = (): void => undefined;

/**
 * HTTP for providers: undici with keep-alive, redirects followed by hand so that credentials
 * never leave their origin and a redirect can only land on an allowed host, and network failures
 * turned into the error taxonomy of src/errors.ts.
 */
export class HttpClient {
  private readonly dispatcher: Dispatcher;

  constructor(options: { connections?: number; bodyTimeoutMs?: number; headersTimeoutMs?: number } = {}) {
    this.dispatcher = new Agent({
      connections: options.connections ?? 32,
      keepAliveTimeout: 30_000,
      headersTimeout: options.headersTimeoutMs ?? 60_000,
      bodyTimeout: options.bodyTimeoutMs ?? 60_000,
      connect: { lookup: guardedLookup },
    });
  }

  async send(options: HttpRequestOptions): Promise<HttpResponse> {
    let url = new URL(options.url);
    const credentialOrigin = url.origin;
    const maxRedirects = options.maxRedirects ?? 5;
    let method = options.method ?? 'GET';
    let body = options.body;
    for (let hop = 0; ; hop++) {
      const credentialsSent = url.origin === credentialOrigin && options.credentialHeaders !== undefined;
      const headers = { ...options.headers, ...(credentialsSent ? options.credentialHeaders : {}) };
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { method, headers, body, signal: options.signal, dispatcher: this.dispatcher });
      } catch (err) {
        throw networkError(err, options.what);
      }
      const status = res.statusCode;
      const location = res.headers.location;
      if (!REDIRECTS.has(status) || typeof location !== 'string') {
        // undici's body emits 'error' when destroyed before its end (a transfer that adopts an
        // object, or gives up on a file): whoever reads it sees failures through the read itself,
        // and a body dropped unread must not end the process.
        res.body.on('error', ignore);
        return { status, headers: res.headers, body: res.body as HttpResponse['body'], url, credentialsSent };
      }
      await res.body.dump().catch(() => undefined);
      if (hop >= maxRedirects) throw new TransientError(`${options.what}: more than ${maxRedirects} redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new UnavailableError(`${options.what}: redirect to an invalid location`, 'refused_link');
      }
      if (next.origin !== credentialOrigin && !hostAllowed(next, options.redirectHosts ?? [])) {
        throw new UnavailableError(
          `${options.what}: refused redirect to ${withoutSecrets(next)} (host not in the connection's allow-list)`,
          'refused_link',
        );
      }
      if (status === 303) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/**
 * DNS resolution that refuses link-local and cloud-metadata addresses (classifyHost's `forbidden`),
 * whatever name led there: the configuration refuses such URLs, and this keeps a name that
 * resolves to 169.254.169.254 from carrying a platform's credentials to the metadata service.
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const refused = addresses.find((a) => classifyHost(a.address).kind === 'forbidden');
    if (refused)
      return callback(
        Object.assign(
          new ConfigurationError(`${hostname} resolves to ${refused.address}, a link-local or cloud-metadata address: refused`),
          { code: 'EREFUSEDADDRESS' },
        ),
        '',
        0,
      );
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), '', 0);
    callback(null, first.address, first.family);
  });
};

/** Maps a non-2xx response onto the error taxonomy, after reading a short, redacted excerpt of the body. */
export async function failForStatus(res: HttpResponse, what: string, redact: readonly string[] = []): Promise<never> {
  const excerpt = await readExcerpt(res, redact);
  const detail = `${what}: HTTP ${res.status}${excerpt ? ` (${excerpt})` : ''}`;
  const status = res.status;
  if (status === 401 || status === 403) {
    // A signed link that stopped working is an expired link, not a bad credential: a retry fetches a fresh one.
    if (!res.credentialsSent) throw new TransientError(`${detail}: signed link refused, probably expired`);
    throw new CredentialsRejectedError(detail);
  }
  if (status === 404 || status === 410) throw new UnavailableError(detail, 'not_found');
  if (status === 429) throw new TransientError(`${detail}: rate limited`, parseRetryAfter(res.headers['retry-after']));
  if (status === 408 || status >= 500) throw new TransientError(detail, parseRetryAfter(res.headers['retry-after']));
  throw new UnavailableError(detail, 'malformed');
}

async function readExcerpt(res: HttpResponse, redact: readonly string[]): Promise<string> {
  let text = '';
  try {
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length >= 300) break;
    }
  } catch {
    // The excerpt is a courtesy; the status code already says what happened.
  }
  res.body.destroy();
  for (const secret of redact) if (secret) text = text.split(secret).join('[redacted]');
  // eslint-disable-next-line no-control-regex
  return text
    .slice(0, 300)
    .replace(/[\x00-\x1f]+/g, ' ')
    .trim();
}

const MAX_JSON_BYTES = 64 * MiB;

/** Reads a JSON body with a size cap; malformed JSON is transient (proxies and truncation happen). */
export async function readJson(res: HttpResponse, what: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_JSON_BYTES) {
        res.body.destroy();
        throw new TransientError(`${what}: response larger than ${MAX_JSON_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof TransientError) throw err;
    throw networkError(err, what);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new TransientError(`${what}: malformed JSON in the response (${size} bytes)`);
  }
}

/** Network-level failures (resets, timeouts, truncated bodies) are always worth a retry. */
export function networkError(err: unknown, what: string): Error {
  if (
    err instanceof TransientError ||
    err instanceof UnavailableError ||
    err instanceof CredentialsRejectedError ||
    err instanceof ConfigurationError
  )
    return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  if (err instanceof undiciErrors.UndiciError || err instanceof Error) {
    const code = (err as { code?: string }).code;
    return new TransientError(`${what}: ${code ? `${code} ` : ''}${err.message}`);
  }
  return new TransientError(`${what}: ${String(err)}`);
}
