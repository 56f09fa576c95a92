import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { Fault } from './faults';

/** One request as a simulator saw it: tests prove from these what was and was not sent. */
export interface LoggedRequest {
  server: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  status: number;
  /** Body bytes written to the socket. */
  bytesSent: number;
  /** The id the request was about, when the simulator knows it. */
  id?: string;
  at: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest) => Promise<void> | void;

/** A loopback HTTP server that logs every request into a shared log. */
export class SimServer {
  private server: Server | null = null;
  private port = 0;

  constructor(
    readonly name: string,
    private readonly handler: Handler,
    private readonly requestLog: LoggedRequest[],
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', this.origin);
      const entry: LoggedRequest = {
        server: this.name,
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
        status: 0,
        bytesSent: 0,
        at: Date.now(),
      };
      this.requestLog.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      res.on('close', () => (entry.status ||= res.statusCode));
      Promise.resolve(this.handler(req, res, url, entry)).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, entry, 500, { code: 'SimulatorError', message: String(err) });
        else res.destroy();
      });
    });
    // Long bodies over slow links must not be cut by Node's defaults.
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = 5_000;
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function sendJson(
  res: ServerResponse,
  log: LoggedRequest,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
  log.bytesSent += Buffer.byteLength(text);
}

/** A platform's error body for a status fault, given the fault's message if it has one (default: `{ code, message }`). */
export type ErrorBody = (status: number, message: string | undefined) => unknown;

/** Plays a status fault or a malformed body; returns true when it answered the request. */
export function playResponseFault(res: ServerResponse, log: LoggedRequest, fault: Fault | undefined, errorBody?: ErrorBody): boolean {
  if (!fault) return false;
  if (fault.kind === 'status') {
    const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
    const body = errorBody
      ? errorBody(fault.status, fault.body)
      : fault.body
        ? { message: fault.body }
        : { code: `Status${fault.status}`, message: `simulated HTTP ${fault.status}` };
    sendJson(res, log, fault.status, body, headers);
    return true;
  }
  if (fault.kind === 'malformed-json') {
    const text = '{"results": [ {"id": "trunc';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
    res.end(text);
    log.bytesSent += text.length;
    return true;
  }
  return false;
}

export interface BodyPlan {
  /** Cut the socket after this many bytes. */
  cutAfter?: number;
  /** End the body early after this many bytes (Content-Length already promised more). */
  endAfter?: number;
  bytesPerSecond?: number;
}

/** Where a cut or short fault ends a body of `length` bytes (a fraction lands inside it whatever its size). */
export function bodyEnd(fault: Fault & { kind: 'cut' | 'short' }, length: number): number {
  if ('fraction' in fault) return Math.floor(fault.fraction * length);
  return 'afterBytes' in fault ? fault.afterBytes : fault.bytes;
}

/** The body faults of `fault` for a body of `length` bytes. */
export function bodyPlanOf(fault: Fault | undefined, length: number): BodyPlan {
  if (fault?.kind === 'cut') return { cutAfter: bodyEnd(fault, length) };
  if (fault?.kind === 'short') return { endAfter: bodyEnd(fault, length) };
  if (fault?.kind === 'slow') return { bytesPerSecond: fault.bytesPerSecond };
  return {};
}

/**
 * Body bytes of 2xx answers about one id from these servers, cut ones and those still being sent
 * (status 0) included: the file bytes a client was sent, without error bodies.
 */
export function fileBytesSent(requests: readonly LoggedRequest[], servers: readonly string[], id: string): number {
  const success = (status: number) => status === 0 || (status >= 200 && status < 300);
  return requests.filter((r) => r.id === id && servers.includes(r.server) && success(r.status)).reduce((n, r) => n + r.bytesSent, 0);
}

/** Streams a body with back-pressure, counting what it sends, and playing cut/short/slow faults. */
export async function sendBody(res: ServerResponse, body: Readable, log: LoggedRequest, plan: BodyPlan = {}): Promise<void> {
  const limit = Math.min(plan.cutAfter ?? Infinity, plan.endAfter ?? Infinity);
  let closed = false;
  res.once('close', () => (closed = true));
  try {
    for await (const raw of body) {
      if (closed) break;
      let chunk = raw as Buffer;
      if (log.bytesSent + chunk.length > limit) chunk = chunk.subarray(0, Math.max(0, limit - log.bytesSent));
      if (plan.bytesPerSecond) {
        await new Promise((r) => setTimeout(r, (chunk.length / plan.bytesPerSecond!) * 1000));
        if (closed) break;
      }
      log.bytesSent += chunk.length;
      const ok = res.write(chunk);
      if (log.bytesSent >= limit) break;
      if (!ok) await drained(res);
    }
  } finally {
    body.destroy();
  }
  if (closed) return;
  if (plan.cutAfter !== undefined && log.bytesSent >= plan.cutAfter) {
    res.socket?.destroy();
    return;
  }
  if (plan.endAfter !== undefined && log.bytesSent >= plan.endAfter) {
    // Content-Length promised more: end the message and the connection, as a broken proxy would.
    res.socket?.end();
    res.socket?.destroy();
    return;
  }
  res.end();
}

/** Parses a single `bytes=a-b` / `bytes=a-` range against a size. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]) + 1, size) : size;
  if (start >= size || start >= end) return 'unsatisfiable';
  return { start, end };
}

/** Waits for 'drain' or 'close', removing both listeners after (thousands of writes must not pile them up). */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
