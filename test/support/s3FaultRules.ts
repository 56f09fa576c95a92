import type { S3Operation } from './s3Operations';

/** What a predicate sees of a request: enough to pick "the UploadPart of part 3 of key k". */
export interface S3Request {
  /** 1, 2, 3... in the order the proxy received them. */
  readonly id: number;
  readonly operation: S3Operation;
  readonly method: string;
  /** The request path as sent, still percent-encoded, without the query. */
  readonly path: string;
  readonly bucket: string | null;
  /** Decoded object key, null for bucket- and service-level requests. */
  readonly key: string | null;
  readonly query: Readonly<Record<string, string>>;
  readonly partNumber: number | null;
  readonly uploadId: string | null;
  /** The headers that matter (see recordedRequestHeaders), lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

/** An operation name, or a predicate on the request. */
export type S3Match = S3Operation | ((request: S3Request) => boolean);

export function matches(match: S3Match, request: S3Request): boolean {
  return typeof match === 'string' ? request.operation === match : match(request);
}

/**
 * Where a held request stops. 'request': nothing of it has reached the store. 'response': the
 * store has received and answered it, and the answer waits. { bodyByte: n }: the first n payload
 * bytes have gone to the store, the rest waits (a request cut off mid-body if its client dies).
 */
export type HoldPoint = 'request' | 'response' | { bodyByte: number };

export type FaultKind = 'hold' | 'fail' | 'flip';

const DEFAULT_HIT_TIMEOUT_MS = 30_000;

/** One fault, applied to the first `times` requests it matches (default 1). */
export class FaultRule {
  /** The requests it acted on, in order. */
  readonly hits: S3Request[] = [];
  private remaining: number;
  private removed = false;
  private hitWaiters: Array<(request: S3Request) => void> = [];

  constructor(
    readonly kind: FaultKind,
    private readonly match: S3Match,
    times: number,
  ) {
    if (!(times >= 1)) throw new RangeError(`a fault's times must be at least 1, got ${times}`);
    this.remaining = times;
  }

  get active(): boolean {
    return !this.removed && this.remaining > 0;
  }

  /** Takes one of its `times` if it matches; the proxy calls this once per request. */
  claim(request: S3Request): boolean {
    if (!this.active || !matches(this.match, request)) return false;
    this.remaining--;
    this.hits.push(request);
    for (const resolve of this.hitWaiters.splice(0)) resolve(request);
    return true;
  }

  /** Resolves with the first request it acted on (at once if it already has). */
  hit(timeoutMs = DEFAULT_HIT_TIMEOUT_MS): Promise<S3Request> {
    const first = this.hits[0];
    if (first) return Promise.resolve(first);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no request matched this ${this.kind} fault within ${timeoutMs} ms`)), timeoutMs);
      this.hitWaiters.push((request) => {
        clearTimeout(timer);
        resolve(request);
      });
    });
  }

  /** It acts on no further request (a held one stays held until released). */
  remove(): void {
    this.removed = true;
  }
}

/** A hold: matching requests wait at `at` until release(). */
export class HoldRule extends FaultRule {
  /** The requests that reached the hold point and waited there (or wait now), in order. */
  readonly heldRequests: S3Request[] = [];
  private readonly waiting = new Set<() => void>();
  private heldWaiters: Array<(request: S3Request) => void> = [];
  private released = false;

  constructor(
    match: S3Match,
    times: number,
    readonly at: HoldPoint,
  ) {
    super('hold', match, times);
  }

  /** How many requests wait on it right now. */
  get holding(): number {
    return this.waiting.size;
  }

  /**
   * Resolves once a matching request is being held at `at` (at once if one has been): for
   * 'response', the store has answered by then; for { bodyByte }, that many bytes have gone.
   */
  held(timeoutMs = DEFAULT_HIT_TIMEOUT_MS): Promise<S3Request> {
    const first = this.heldRequests[0];
    if (first) return Promise.resolve(first);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no request was held at ${JSON.stringify(this.at)} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.heldWaiters.push((request) => {
        clearTimeout(timer);
        resolve(request);
      });
    });
  }

  /** Lets every held request go on and holds no more. */
  release(): void {
    this.released = true;
    this.remove();
    for (const go of [...this.waiting]) go();
  }

  /** Holds `request` until release() or `gone` (its client went away), whichever comes first. */
  wait(request: S3Request, gone: Promise<void>): Promise<void> {
    if (this.released) return Promise.resolve();
    this.heldRequests.push(request);
    for (const resolve of this.heldWaiters.splice(0)) resolve(request);
    return new Promise((resolve) => {
      const go = (): void => {
        this.waiting.delete(go);
        resolve();
      };
      this.waiting.add(go);
      void gone.then(go);
    });
  }
}

export interface FailOptions {
  status: number;
  /** The S3 error code, e.g. 'InternalError', 'SlowDown', 'BadDigest'. */
  code: string;
  message?: string;
  times?: number;
}

export class FailRule extends FaultRule {
  constructor(
    match: S3Match,
    readonly options: FailOptions,
  ) {
    super('fail', match, options.times ?? 1);
  }
}

export interface FlipOptions {
  /** Payload offset of the byte to change (the decoded offset for aws-chunked bodies). */
  offset: number;
  /** XORed into the byte; default 0xff. */
  xor?: number;
  times?: number;
}

export class FlipRule extends FaultRule {
  readonly offset: number;
  readonly xor: number;

  constructor(match: S3Match, options: FlipOptions) {
    super('flip', match, options.times ?? 1);
    if (!Number.isInteger(options.offset) || options.offset < 0)
      throw new RangeError(`flipByte offset must be a non-negative integer, got ${options.offset}`);
    const xor = options.xor ?? 0xff;
    if (!Number.isInteger(xor) || xor < 1 || xor > 0xff) throw new RangeError(`flipByte xor must be 1..255, got ${xor}`);
    this.offset = options.offset;
    this.xor = xor;
  }
}

/** The S3 error document a store sends with an error status. */
export function s3ErrorXml(code: string, message: string, resource: string, requestId: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message><Resource>${esc(resource)}</Resource><RequestId>${esc(requestId)}</RequestId></Error>`
  );
}
