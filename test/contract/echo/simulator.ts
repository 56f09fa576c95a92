import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { contentKey, contentSha256 } from '../../../src/simulators/content';
import { FaultPlan } from '../../../src/simulators/faults';
import { serveMedia, type MediaBehaviour } from '../../../src/simulators/media';
import { SimServer, playResponseFault, sendJson, type LoggedRequest } from '../../../src/simulators/server';

export interface EchoCall {
  id: string;
  startedAt: string;
  size: number;
  state: 'ready' | 'processing' | 'lost';
  name?: string;
}

/**
 * Echo's API for the contract suite: bearer tokens, calls paged by window, a call's state and a
 * signed media URL on a storage origin of its own (Range switchable), faults ('call' takes
 * 'foreign-redirect': the media URL then points at its location), and a log of every request.
 */
export class EchoSimulator {
  readonly token = 'echo-token-7c1f';
  readonly faults = new FaultPlan('echo');
  readonly requests: LoggedRequest[] = [];
  readonly media: MediaBehaviour = { range: true, contentLength: true };
  private readonly api = new SimServer('echo-api', (req, res, url, log) => this.handleApi(req, res, url, log), this.requests);
  private readonly storage = new SimServer('echo-storage', (req, res, url, log) => this.handleStorage(req, res, url, log), this.requests);
  private readonly calls: EchoCall[];

  constructor(calls: EchoCall[]) {
    this.calls = [...calls].sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
  }

  async start(): Promise<void> {
    await this.api.start();
    await this.storage.start();
  }

  async stop(): Promise<void> {
    await this.api.stop();
    await this.storage.stop();
  }

  get baseUrl(): string {
    return this.api.origin;
  }

  get storageHost(): string {
    return new URL(this.storage.origin).host;
  }

  sha256(id: string): Promise<string> {
    return contentSha256(contentKey('echo', id), this.call(id)!.size);
  }

  private call(id: string): EchoCall | undefined {
    return this.calls.find((c) => c.id === id);
  }

  private handleApi(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): void {
    if (req.headers.authorization !== `Bearer ${this.token}`) return sendJson(res, log, 401, { error: 'invalid token' });
    if (url.pathname === '/v1/calls') return this.list(res, url, log);
    const id = decodeURIComponent(/^\/v1\/calls\/([^/]+)$/.exec(url.pathname)?.[1] ?? '');
    const call = this.call(id);
    log.id = id;
    if (!call) return sendJson(res, log, 404, { error: 'no such call' });
    const fault = this.faults.take('call', id);
    if (playResponseFault(res, log, fault)) return;
    const mediaUrl = fault?.kind === 'foreign-redirect' ? fault.location : `${this.storage.origin}/media/${id}?sig=${this.sign(id)}`;
    sendJson(res, log, 200, {
      id,
      startedAt: call.startedAt,
      state: call.state,
      name: call.name,
      ...(call.state === 'ready' ? { mediaUrl } : {}),
    });
  }

  private list(res: ServerResponse, url: URL, log: LoggedRequest): void {
    const since = url.searchParams.get('since') ?? '';
    const until = url.searchParams.get('until') ?? '';
    const size = Number(url.searchParams.get('size') ?? '50');
    const from = Number(url.searchParams.get('page') ?? '0');
    const inWindow = this.calls.filter((c) => c.startedAt >= since && c.startedAt < until);
    const page = inWindow.slice(from, from + size);
    const next = from + size < inWindow.length ? String(from + size) : null;
    sendJson(res, log, 200, { calls: page.map(({ id, startedAt, state, name }) => ({ id, startedAt, state, name })), next });
  }

  private async handleStorage(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): Promise<void> {
    const id = /^\/media\/([^/]+)$/.exec(url.pathname)?.[1] ?? '';
    const call = this.call(id);
    log.id = id;
    if (!call || url.searchParams.get('sig') !== this.sign(id)) return sendJson(res, log, 403, { error: 'bad signature' });
    await serveMedia(
      req,
      res,
      log,
      { key: contentKey('echo', id), size: call.size, contentType: 'audio/wav' },
      this.media,
      this.faults.take('media', id),
    );
  }

  private sign(id: string): string {
    return createHmac('sha256', 'echo-signing').update(id).digest('hex').slice(0, 16);
  }
}
