import { createHmac } from 'node:crypto';

/**
 * Kore.ai authenticates API calls with an HS256 JWT in the `auth` header, signed with the app's
 * client secret and naming the app's client id as `appId`. Minting it takes a dozen lines of
 * node:crypto, so no JWT library is pulled in for it.
 */
export function signHs256(payload: Record<string, unknown>, secret: string): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify(payload));
  const signature = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${signature}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

export interface KoreTokenOptions {
  clientId: string;
  clientSecret: string;
  /** Lifetime written into `exp`. Kore's own samples carry no `exp`; a bounded one limits a leaked token. */
  lifetimeSeconds?: number;
  /** Mint a new token when the cached one has less than this left, so no request carries one about to lapse. */
  renewBeforeSeconds?: number;
  /** Clock in milliseconds (tests move it). */
  now?: () => number;
}

const DEFAULT_LIFETIME_SECONDS = 3600;
const DEFAULT_RENEW_BEFORE_SECONDS = 300;

/**
 * Mints and caches the worker's JWT for one connection. Secret and token live in `#private`
 * fields so that `util.inspect` of a provider (a stray log line) cannot print them.
 */
export class KoreTokenSource {
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #lifetimeSeconds: number;
  readonly #renewBeforeSeconds: number;
  readonly #now: () => number;
  #token: string | null = null;
  #expiresAtMs = 0;

  constructor(options: KoreTokenOptions) {
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#lifetimeSeconds = options.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
    // A renewal margin as long as the lifetime would mint on every call; keep it below.
    this.#renewBeforeSeconds = Math.min(options.renewBeforeSeconds ?? DEFAULT_RENEW_BEFORE_SECONDS, this.#lifetimeSeconds / 2);
    this.#now = options.now ?? Date.now;
  }

  /** The current token, minted anew when none is cached or the cached one is near its expiry. */
  token(): string {
    const now = this.#now();
    if (this.#token && now < this.#expiresAtMs - this.#renewBeforeSeconds * 1000) return this.#token;
    const iat = Math.floor(now / 1000);
    const exp = iat + this.#lifetimeSeconds;
    this.#token = signHs256({ appId: this.#clientId, sub: 'callvault', iat, exp }, this.#clientSecret);
    this.#expiresAtMs = exp * 1000;
    return this.#token;
  }

  /**
   * Strings that must never appear in an error message or log line. The client id is not a
   * secret to Kore, but the configuration treats it as one (a secret reference), so it goes too.
   */
  redactions(): string[] {
    // Longest first, so a shorter secret inside a longer one cannot leave a fragment behind.
    return [...(this.#token ? [this.#token] : []), this.#clientSecret, this.#clientId].sort((a, b) => b.length - a.length);
  }
}
