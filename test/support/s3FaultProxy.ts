import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { BodyScanner, wireIndexOf } from './awsChunked';
import { recordedRequestHeaders, recordedResponseHeaders, s3Operation, s3Target } from './s3Operations';
import {
  FailRule,
  FlipRule,
  HoldRule,
  matches,
  s3ErrorXml,
  type FailOptions,
  type FaultRule,
  type FlipOptions,
  type HoldPoint,
  type S3Match,
  type S3Request,
} from './s3FaultRules';

export type { S3Match, S3Request, HoldPoint, FailOptions, FlipOptions };
export { FaultRule, HoldRule } from './s3FaultRules';
export type { S3Operation } from './s3Operations';

/** One request as the proxy saw it, and how it ended; the log entry tests assert on. */
export interface S3Exchange extends S3Request {
  readonly startedAt: number;
  endedAt: number | null;
  /** The store's status (or the fail fault's); null if neither answered. See `error` for whether the client got it. */
  status: number | null;
  responseHeaders: Record<string, string>;
  /** Payload bytes received from the client (the decoded length of an aws-chunked body). */
  requestBytes: number;
  responseBytes: number;
  /** Trailer lines of an aws-chunked body, e.g. x-amz-checksum-crc32. */
  trailers: Record<string, string>;
  /** What the proxy did to it: "held at request", "failed 503 SlowDown", "flipped payload byte 7 (0x41 -> 0xbe)". */
  faults: string[];
  /** Why it did not complete normally (client went away, store unreachable); null if it did. */
  error: string | null;
}

export interface S3FaultProxyOptions {
  /** The store's S3 endpoint, e.g. SeaweedServer.endpoint. */
  upstream: string;
  /** Default: a free port the kernel picks. */
  port?: number;
}

/** Hop-by-hop headers, and Expect (SigV4 never signs it; node answers 100-continue itself). */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'expect', 'te']);
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'transfer-encoding']);

interface Waiter {
  match: S3Match;
  completed: boolean;
  resolve: (exchange: S3Exchange) => void;
}

/**
 * A fault-injecting proxy in front of an S3 store: workers get its endpoint as theirs. It forwards
 * every request with its Host header and bytes unchanged (SigV4 signatures still validate),
 * streams both ways with back-pressure (nothing is buffered whole), logs every request, and lets
 * a test hold, fail or corrupt the requests a predicate picks.
 */
export class S3FaultProxy {
  private readonly log: S3Exchange[] = [];
  private readonly rules: FaultRule[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly upstreamRequests = new Set<http.ClientRequest>();
  private readonly upstreamUrl: URL;
  // A fresh connection per request: a kept-alive socket the store has closed would turn into a
  // reset the test did not ask for.
  private readonly agent = new http.Agent({ keepAlive: false });
  private nextId = 1;

  private constructor(
    private readonly server: http.Server,
    readonly upstream: string,
  ) {
    this.upstreamUrl = new URL(upstream);
    if (this.upstreamUrl.protocol !== 'http:') throw new Error(`S3FaultProxy forwards to http:// stores only, got ${upstream}`);
  }

  static async start(options: S3FaultProxyOptions): Promise<S3FaultProxy> {
    const server = http.createServer();
    // A held or slow 1 GiB upload must not be cut by node's 5 minute request limit, and idle
    // client sockets stay open as long as the client keeps them (no close racing a reuse).
    server.requestTimeout = 0;
    server.keepAliveTimeout = 0;
    const proxy = new S3FaultProxy(server, options.upstream);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => proxy.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** http://127.0.0.1:<port>: the S3 endpoint to configure workers with. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every request so far, in arrival order. */
  get requests(): readonly S3Exchange[] {
    return this.log;
  }

  requestsFor(match: S3Match): S3Exchange[] {
    return this.log.filter((r) => matches(match, r));
  }

  /** Holds matching requests (the first `times`, default 1) at `at` (default 'request') until release(). */
  hold(match: S3Match, options: { at?: HoldPoint; times?: number } = {}): HoldRule {
    return this.add(new HoldRule(match, options.times ?? 1, options.at ?? 'request'));
  }

  /** Answers matching requests with this status and S3 error, after reading their body; the store never sees them. */
  fail(match: S3Match, options: FailOptions): FaultRule {
    return this.add(new FailRule(match, options));
  }

  /** Changes one payload byte of matching requests on the way to the store; the length stays the same. */
  flipByte(match: S3Match, options: FlipOptions): FaultRule {
    return this.add(new FlipRule(match, options));
  }

  /** Resolves with the first logged request (past or future) that matches, once it has ended if `completed`. */
  waitFor(match: S3Match, options: { completed?: boolean; timeoutMs?: number } = {}): Promise<S3Exchange> {
    const completed = options.completed ?? false;
    const found = this.log.find((r) => matches(match, r) && (!completed || r.endedAt !== null));
    if (found) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        completed,
        resolve: (exchange) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(exchange);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching S3 request${completed ? ' completed' : ''} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Releases every hold and removes every fault; the log stays. */
  clearRules(): void {
    for (const rule of this.rules.splice(0)) {
      if (rule instanceof HoldRule) rule.release();
      else rule.remove();
    }
  }

  clearLog(): void {
    this.log.length = 0;
  }

  /** Releases holds, cuts every open connection both ways, and stops listening. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Clients first: a held request released after its client is gone is dropped, not sent.
    this.server.closeAllConnections();
    this.clearRules();
    for (const req of this.upstreamRequests) req.destroy();
    this.agent.destroy();
    await closed;
  }

  private add<T extends FaultRule>(rule: T): T {
    this.rules.push(rule);
    return rule;
  }

  /** The first active rule of this kind that matches claims the request. */
  private claim<T extends FaultRule>(
    kind: new (...args: never[]) => T,
    request: S3Exchange,
    applies: (rule: T) => boolean = () => true,
  ): T | undefined {
    for (const rule of this.rules) {
      if (!(rule instanceof kind) || !applies(rule)) continue;
      try {
        if (rule.claim(request)) return rule;
      } catch (err) {
        request.error = `a fault predicate threw: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    return undefined;
  }

  private notify(exchange: S3Exchange): void {
    for (const w of [...this.waiters]) if (matches(w.match, exchange) && (!w.completed || exchange.endedAt !== null)) w.resolve(exchange);
  }

  private record(req: http.IncomingMessage): S3Exchange {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const { bucket, key } = s3Target(rawPath);
    const partNumber = url.searchParams.get('partNumber');
    const exchange: S3Exchange = {
      id: this.nextId++,
      operation: s3Operation(req.method ?? 'GET', rawPath, url.searchParams, req.headers),
      method: req.method ?? 'GET',
      path: rawPath,
      bucket,
      key,
      query: Object.fromEntries(url.searchParams),
      partNumber: partNumber === null ? null : Number(partNumber),
      uploadId: url.searchParams.get('uploadId'),
      headers: recordedRequestHeaders(req.headers),
      startedAt: Date.now(),
      endedAt: null,
      status: null,
      responseHeaders: {},
      requestBytes: 0,
      responseBytes: 0,
      trailers: {},
      faults: [],
      error: null,
    };
    this.log.push(exchange);
    return exchange;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const exchange = this.record(req);
    let clientGone = false;
    const gone = new Promise<void>((resolve) =>
      res.on('close', () => {
        if (!res.writableFinished) {
          clientGone = true;
          exchange.error ??= 'the client went away before the response was complete';
        }
        exchange.endedAt = Date.now();
        this.notify(exchange);
        resolve();
      }),
    );
    req.on('error', () => undefined); // reported through pipeline() or 'close'; never a crash of the test
    res.on('error', () => undefined);
    this.notify(exchange);
    // A failed request never reaches the store, so only a hold before it and no flip can apply.
    const fail = this.claim(FailRule, exchange);
    const hold = this.claim(HoldRule, exchange, (rule) => !fail || rule.at === 'request');
    const flip = fail ? undefined : this.claim(FlipRule, exchange);

    if (hold?.at === 'request') {
      exchange.faults.push('held at request');
      await hold.wait(exchange, gone);
      if (clientGone) return; // never sent: the store does not hear of it
    }
    if (fail) return this.answerWithError(exchange, req, res, fail);
    this.forward(exchange, req, res, gone, { hold, flip });
  }

  /** Reads (and discards) the body first, so the client gets a clean HTTP answer, as from a store. */
  private answerWithError(exchange: S3Exchange, req: http.IncomingMessage, res: http.ServerResponse, fail: FailRule): void {
    const { status, code, message } = fail.options;
    exchange.faults.push(`failed ${status} ${code}`);
    const scanner = new BodyScanner(isAwsChunked(req));
    req.on('data', (chunk: Buffer) => {
      scanner.scan(chunk);
      exchange.requestBytes = scanner.payloadBytes;
    });
    req.on('end', () => {
      const body =
        req.method === 'HEAD'
          ? ''
          : s3ErrorXml(code, message ?? `injected by the test proxy: ${code}`, exchange.path, `proxy-${exchange.id}`);
      exchange.status = status;
      res.writeHead(status, {
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(body),
        'x-amz-request-id': `proxy-${exchange.id}`,
      });
      res.end(body);
    });
  }

  private forward(
    exchange: S3Exchange,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    gone: Promise<void>,
    faults: { hold: HoldRule | undefined; flip: FlipRule | undefined },
  ): void {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value;
    const upstream = http.request({
      host: this.upstreamUrl.hostname,
      port: this.upstreamUrl.port,
      method: req.method,
      path: req.url,
      headers,
      agent: this.agent,
    });
    this.upstreamRequests.add(upstream);
    upstream.on('close', () => this.upstreamRequests.delete(upstream));
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      exchange.error ??= `store: ${err.code ?? err.message}`;
      // As the store's outage would look without a proxy: the connection fails, no HTTP answer.
      if (!res.headersSent) res.destroy();
    });
    upstream.on(
      'response',
      (upRes) => void this.relayResponse(exchange, upRes, res, gone, faults.hold?.at === 'response' ? faults.hold : undefined),
    );

    const bodyByte = typeof faults.hold?.at === 'object' ? faults.hold.at.bodyByte : undefined;
    const tap = new RequestTap(
      exchange,
      new BodyScanner(isAwsChunked(req)),
      faults.flip,
      bodyByte === undefined ? undefined : { hold: faults.hold as HoldRule, bodyByte, gone },
    );
    pipeline(req, tap, upstream, (err) => {
      if (err) exchange.error ??= `request body: ${err.message}`;
    });
  }

  private async relayResponse(
    exchange: S3Exchange,
    upRes: http.IncomingMessage,
    res: http.ServerResponse,
    gone: Promise<void>,
    hold: HoldRule | undefined,
  ): Promise<void> {
    upRes.on('error', () => undefined);
    exchange.status = upRes.statusCode ?? null;
    exchange.responseHeaders = recordedResponseHeaders(upRes.headers);
    if (hold) {
      exchange.faults.push(`held at response (store answered ${String(upRes.statusCode)})`);
      await hold.wait(exchange, gone);
      if (res.destroyed) {
        upRes.destroy();
        return;
      }
    }
    const raw: string[] = [];
    for (let i = 0; i + 1 < upRes.rawHeaders.length; i += 2) {
      const [name, value] = [upRes.rawHeaders[i] as string, upRes.rawHeaders[i + 1] as string];
      if (!NOT_RETURNED.has(name.toLowerCase())) raw.push(name, value);
    }
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, raw);
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        exchange.responseBytes += chunk.length;
        done(null, chunk);
      },
    });
    pipeline(upRes, count, res, (err) => {
      if (err) exchange.error ??= `response body: ${err.message}`;
    });
  }
}

/**
 * The request body on its way to the store: counted, its trailers read, one byte flipped, or
 * stopped after n payload bytes until a hold is released. Back-pressure passes through: while the
 * callback is pending nothing more is read from the client.
 */
class RequestTap extends Transform {
  private flipped = false;
  private holdDone = false;

  constructor(
    private readonly exchange: S3Exchange,
    private readonly scanner: BodyScanner,
    private readonly flip: FlipRule | undefined,
    private readonly holdAt: { hold: HoldRule; bodyByte: number; gone: Promise<void> } | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const runs = this.scanner.scan(chunk);
    this.exchange.requestBytes = this.scanner.payloadBytes;
    Object.assign(this.exchange.trailers, this.scanner.trailers);
    let out = chunk;
    if (this.flip && !this.flipped) {
      const at = wireIndexOf(runs, this.flip.offset);
      if (at >= 0) {
        out = Buffer.from(chunk);
        const before = out[at] as number;
        out[at] = before ^ this.flip.xor;
        this.flipped = true;
        this.exchange.faults.push(`flipped payload byte ${this.flip.offset} (0x${hex(before)} -> 0x${hex(out[at] as number)})`);
      }
    }
    const holdAt = this.holdAt;
    if (holdAt && !this.holdDone) {
      const at = wireIndexOf(runs, holdAt.bodyByte);
      if (at >= 0) {
        this.holdDone = true;
        this.exchange.faults.push(`held at body byte ${holdAt.bodyByte}`);
        this.push(out.subarray(0, at));
        void holdAt.hold.wait(this.exchange, holdAt.gone).then(() => {
          if (!this.destroyed) done(null, out.subarray(at));
        });
        return;
      }
    }
    done(null, out);
  }

  override _flush(done: TransformCallback): void {
    if (this.scanner.error) this.exchange.error ??= `aws-chunked body: ${this.scanner.error}`;
    if (this.flip && !this.flipped) this.exchange.faults.push(`flip missed: the body has only ${this.scanner.payloadBytes} payload bytes`);
    done();
  }
}

/** The SDK marks an aws-chunked body with Content-Encoding; callvault's streamed PutObject only with x-amz-content-sha256, as stores read it. */
function isAwsChunked(req: http.IncomingMessage): boolean {
  return (
    /aws-chunked/i.test(String(req.headers['content-encoding'] ?? '')) ||
    String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-')
  );
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
