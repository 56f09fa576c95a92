import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { contentKey, contentSha256, deterministicUuid } from './content';
import { FaultPlan } from './faults';
import type { SimFile } from './inventory';
import { serveMedia, type MediaBehaviour } from './media';
import { BODY_BREAKS, EXPIRED, MALFORMED_JSON, SERVER_ERRORS, playMix, throttled, type RealisticFaultOptions } from './realistic';
import { SimServer, fileBytesSent, playResponseFault, sendJson, type LoggedRequest } from './server';

export type BirdStatus = 'accepted' | 'completed' | 'ongoing' | 'paused' | 'available' | 'absent' | 'failed';

export interface BirdRecordingSpec {
  id: string;
  /** The call this recording belongs to. */
  sourceId: string;
  channelId: string;
  createdAt: string;
  size: number;
  status: BirdStatus;
  /** An `ongoing` recording becomes `available` after this many metadata requests. */
  availableAfterPolls?: number;
}

export interface BirdSimulatorOptions {
  seed?: string;
  workspaceId?: string;
  accessKey?: string;
  recordings: BirdRecordingSpec[];
  /** Lifetime of the signed media URLs (Bird: 600 s). */
  signedUrlTtlSeconds?: number;
  media?: Partial<MediaBehaviour>;
  /** Leave `url` out of the metadata, so clients must use the `.mp3` endpoint's 307. */
  omitUrlInMetadata?: boolean;
  /** Each List Recordings page after the first repeats this many items of the page before. Default 0. */
  listOverlap?: number;
  /**
   * Enforce the workspace's published rate limit (Bird: 50 GET/s): API requests beyond this many in
   * one wall-clock second get 429 with `Retry-After: 1`. The storage origin (signed URLs, an object
   * store) is not Bird's API and is not limited. Unset: no limit.
   */
  apiRequestsPerSecond?: number;
  /** The rate limit's clock (tests pass one they move by hand). Default Date.now. */
  clock?: () => number;
}

export interface GenerateOptions {
  seed: string;
  count: number;
  from: string;
  to: string;
  size: { min: number; max: number };
  /** How many recordings get each non-available status (the rest are available). */
  statuses?: Partial<Record<BirdStatus, number>>;
}

/**
 * A Bird voice API for tests and the demo: List Recordings (limit, pageToken, startAt, endAt),
 * recording metadata as the OpenAPI schema in the seed page has it, `{id}.mp3` answering 307 to
 * a signed URL on a separate storage origin that expires, AccessKey auth, Range, faults on
 * demand or at rates, and a log of every request.
 *
 * Fault targets: 'list' (id: the query string), 'metadata' and 'redirect' (the `.mp3` endpoint)
 * (id: recording id), 'media' (the storage origin; id: recording id). 'expired' on 'metadata'
 * hands out an already-expired signed URL; on 'media' the storage refuses the signature.
 */
export class BirdSimulator {
  readonly seed: string;
  readonly workspaceId: string;
  readonly accessKey: string;
  readonly faults: FaultPlan;
  readonly requests: LoggedRequest[] = [];
  readonly media: MediaBehaviour;
  /** See BirdSimulatorOptions.listOverlap. */
  listOverlap: number;
  private readonly recordings: BirdRecordingSpec[];
  private readonly byId: Map<string, BirdRecordingSpec>;
  private readonly polls = new Map<string, number>();
  private readonly signingSecret: string;
  private readonly api: SimServer;
  private readonly storage: SimServer;
  signedUrlTtlSeconds: number;
  /** See BirdSimulatorOptions.apiRequestsPerSecond. */
  apiRequestsPerSecond: number | undefined;
  private rateWindow = { second: 0, count: 0 };

  constructor(private readonly options: BirdSimulatorOptions) {
    this.seed = options.seed ?? 'bird';
    this.workspaceId = options.workspaceId ?? deterministicUuid(this.seed, 'workspace');
    this.accessKey = options.accessKey ?? `bird-key-${deterministicUuid(this.seed, 'key')}`;
    this.signingSecret = `sign-${this.seed}`;
    this.signedUrlTtlSeconds = options.signedUrlTtlSeconds ?? 600;
    this.faults = new FaultPlan(this.seed);
    this.listOverlap = options.listOverlap ?? 0;
    this.apiRequestsPerSecond = options.apiRequestsPerSecond;
    this.media = { range: true, contentLength: true, ...options.media };
    this.recordings = [...options.recordings].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    this.byId = new Map(this.recordings.map((r) => [r.id, r]));
    this.api = new SimServer('bird-api', (req, res, url, log) => this.handleApi(req, res, url, log), this.requests);
    this.storage = new SimServer('bird-storage', (req, res, url, log) => this.handleStorage(req, res, url, log), this.requests);
  }

  /** Recordings spread evenly over a window, sizes and statuses drawn deterministically from the seed. */
  static generate(options: GenerateOptions): BirdRecordingSpec[] {
    const from = Date.parse(options.from);
    const span = Date.parse(options.to) - from;
    const statusList: BirdStatus[] = [];
    for (const [status, n] of Object.entries(options.statuses ?? {}))
      for (let i = 0; i < (n ?? 0); i++) statusList.push(status as BirdStatus);
    // Special statuses sit at evenly spaced positions, so they spread over pages and days.
    const stride = Math.max(1, Math.floor(options.count / Math.max(1, statusList.length)));
    return Array.from({ length: options.count }, (_, i) => {
      const unit = contentKey(options.seed, `size-${i}`).readUInt32BE(0) / 0xffffffff;
      const special = i % stride === 0 ? statusList[i / stride] : undefined;
      return {
        id: deterministicUuid(options.seed, `recording-${i}`),
        sourceId: deterministicUuid(options.seed, `call-${Math.floor(i / 2)}`),
        channelId: deterministicUuid(options.seed, 'channel'),
        createdAt: new Date(from + Math.floor(((i + 0.5) * span) / options.count)).toISOString(),
        size: Math.round(options.size.min + unit * (options.size.max - options.size.min)),
        status: special ?? 'available',
      };
    });
  }

  async start(): Promise<void> {
    await this.api.start();
    await this.storage.start();
  }

  async stop(): Promise<void> {
    await this.api.stop();
    await this.storage.stop();
  }

  /** Base URL to configure as the connection's `baseUrl`. */
  get baseUrl(): string {
    return this.api.origin;
  }

  /** The storage origin signed URLs point at, as a host pattern for `mediaHosts`. */
  get storageHost(): string {
    return new URL(this.storage.origin).host;
  }

  list(): readonly BirdRecordingSpec[] {
    return this.recordings;
  }

  recording(id: string): BirdRecordingSpec {
    const rec = this.byId.get(id);
    if (!rec) throw new Error(`no simulated recording ${id}`);
    return rec;
  }

  setStatus(id: string, status: BirdStatus): void {
    this.recording(id).status = status;
  }

  sha256(id: string): Promise<string> {
    const rec = this.recording(id);
    return contentSha256(contentKey(this.seed, rec.id), rec.size);
  }

  /** Media bytes the storage origin sent for one recording, over all requests (error bodies not counted). */
  mediaBytesSent(id: string): number {
    return fileBytesSent(this.requests, ['bird-storage'], id);
  }

  /** Every request about one recording: metadata, the `.mp3` endpoint and the storage origin. */
  requestsFor(id: string): LoggedRequest[] {
    return this.requests.filter((r) => r.id === id);
  }

  /** Every recording, with its SHA-256 and whether it can ever be downloaded. */
  async inventory(): Promise<SimFile[]> {
    const files: SimFile[] = [];
    for (const rec of this.recordings) {
      const availability =
        rec.status === 'available' || rec.availableAfterPolls !== undefined
          ? 'available'
          : rec.status === 'absent' || rec.status === 'failed'
            ? 'final'
            : 'pending';
      files.push({ id: rec.id, size: rec.size, sha256: await this.sha256(rec.id), availability, status: rec.status });
    }
    return files;
  }

  /**
   * Transient faults at `rate` on every target, each succeeding on a later try (RealisticFaultOptions):
   * - 'list', 'metadata', 'redirect' (the API): 429 with Retry-After, 500 and 503, as a busy API
   *   answers; plus 429 on every `every429`-th API call, since the workspace's quota is shared
   *   with other integrations. 'list' and 'metadata' also send JSON that does not parse (a
   *   truncating proxy), and 'metadata' an already-expired signed URL (a long queue between the
   *   metadata and the media GET: the storage then answers 403).
   * - 'media' (the storage origin, an object store): 500, 503 (its SlowDown), 403 for an expired
   *   signature, a connection reset mid-body and a body shorter than its Content-Length, at
   *   positions drawn inside the body.
   * Listing pages repeat the last 2 items of the page before, unless `overlap` is false.
   */
  playRealisticFaults(options: RealisticFaultOptions = {}): void {
    const api = [throttled(options.retryAfterSeconds ?? 1), ...SERVER_ERRORS];
    const perTarget = {
      list: [...api, MALFORMED_JSON],
      metadata: [...api, MALFORMED_JSON, EXPIRED],
      redirect: api,
      media: [...SERVER_ERRORS, EXPIRED, ...BODY_BREAKS],
    };
    playMix(this.faults, { perTarget, apiTargets: ['list', 'metadata', 'redirect'], throttled: api[0]! }, options, this.seed);
    if (options.overlap ?? true) this.listOverlap = 2;
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): Promise<void> {
    const prefix = `/workspaces/${this.workspaceId}/recordings`;
    if (this.overRateLimit())
      return sendJson(res, log, 429, { code: 'TooManyRequests', message: 'Rate limit exceeded' }, { 'retry-after': '1' });
    if (req.headers.authorization !== `AccessKey ${this.accessKey}`) {
      return sendJson(res, log, 401, { code: 'Unauthorized', message: 'Missing or invalid access key' });
    }
    if (!url.pathname.startsWith(prefix)) return sendJson(res, log, 404, { code: 'NotFound', message: 'Workspace not found' });
    const rest = url.pathname.slice(prefix.length);
    if (rest === '' || rest === '/') return this.listRecordings(res, url, log);
    const media = /^\/([^/]+)\.mp3$/.exec(rest);
    const meta = /^\/([^/.]+)$/.exec(rest);
    const id = decodeURIComponent(media?.[1] ?? meta?.[1] ?? '');
    log.id = id;
    const rec = this.byId.get(id);
    if (!rec) return sendJson(res, log, 404, { code: 'NotFound', message: 'Recording not found' });
    if (media) {
      if (playResponseFault(res, log, this.faults.take('redirect', id))) return;
      if (this.currentStatus(rec, false) !== 'available')
        return sendJson(res, log, 404, { code: 'NotFound', message: 'Recording file not available' });
      res.writeHead(307, { location: this.signedUrl(rec) });
      res.end();
      return;
    }
    const fault = this.faults.take('metadata', id);
    if (playResponseFault(res, log, fault)) return;
    const status = this.currentStatus(rec, true);
    const body = this.recordingJson(rec, status);
    if (fault?.kind === 'foreign-redirect') body.url = fault.location;
    if (fault?.kind === 'expired') body.url = this.signedUrl(rec, -60);
    return sendJson(res, log, 200, body);
  }

  /** Counts an API request against the current second's quota; true when it is over. */
  private overRateLimit(): boolean {
    if (this.apiRequestsPerSecond === undefined) return false;
    const second = Math.floor((this.options.clock ?? Date.now)() / 1000);
    if (second !== this.rateWindow.second) this.rateWindow = { second, count: 0 };
    return ++this.rateWindow.count > this.apiRequestsPerSecond;
  }

  private listRecordings(res: ServerResponse, url: URL, log: LoggedRequest): void {
    if (playResponseFault(res, log, this.faults.take('list', url.search))) return;
    const limit = Number(url.searchParams.get('limit') ?? '10');
    if (!Number.isInteger(limit) || limit < 1 || limit > 99) {
      return sendJson(res, log, 422, { code: 'InvalidParameter', message: 'limit must be between 1 and 99' });
    }
    const startAt = url.searchParams.get('startAt');
    const endAt = url.searchParams.get('endAt');
    let offset = 0;
    const token = url.searchParams.get('pageToken');
    if (token) {
      const decoded = /^o(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
      if (!decoded) return sendJson(res, log, 422, { code: 'InvalidPageToken', message: 'pageToken is invalid' });
      offset = Number(decoded[1]);
    }
    const inWindow = this.recordings.filter(
      (r) => (!startAt || r.createdAt >= new Date(startAt).toISOString()) && (!endAt || r.createdAt < new Date(endAt).toISOString()),
    );
    // Items that arrived during paging push the page back: it starts with the end of the page before.
    const start = offset > 0 ? Math.max(0, offset - Math.min(this.listOverlap, limit - 1)) : 0;
    const page = inWindow.slice(start, start + limit);
    const next = start + limit < inWindow.length ? Buffer.from(`o${start + limit}`).toString('base64url') : undefined;
    sendJson(res, log, 200, { results: page.map((r) => this.recordingJson(r, this.currentStatus(r, false))), nextPageToken: next });
  }

  private async handleStorage(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): Promise<void> {
    const m = new RegExp(`^/voice-recordings/${this.workspaceId}/([^/]+)\\.mp3$`).exec(url.pathname);
    const id = m?.[1] ?? '';
    log.id = id;
    const rec = this.byId.get(id);
    if (!rec) return sendXmlError(res, log, 404, 'NoSuchKey', 'The specified key does not exist.');
    const fault = this.faults.take('media', id);
    if (fault?.kind === 'expired' || !this.validSignature(url, id)) {
      return sendXmlError(res, log, 403, 'AccessDenied', 'Request has expired');
    }
    await serveMedia(req, res, log, { key: contentKey(this.seed, rec.id), size: rec.size, contentType: 'audio/mpeg' }, this.media, fault);
  }

  private currentStatus(rec: BirdRecordingSpec, countPoll: boolean): BirdStatus {
    if (rec.availableAfterPolls === undefined) return rec.status;
    const polls = (this.polls.get(rec.id) ?? 0) + (countPoll ? 1 : 0);
    this.polls.set(rec.id, polls);
    return polls > rec.availableAfterPolls ? 'available' : rec.status;
  }

  private signedUrl(rec: BirdRecordingSpec, ttlOverride?: number): string {
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const expires = String(ttlOverride ?? this.signedUrlTtlSeconds);
    const path = `/voice-recordings/${this.workspaceId}/${rec.id}.mp3`;
    const signature = this.sign(path, date, expires);
    const q = new URLSearchParams({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Date': date,
      'X-Amz-Expires': expires,
      'X-Amz-Signature': signature,
    });
    return `${this.storage.origin}${path}?${q}`;
  }

  private sign(path: string, date: string, expires: string): string {
    return createHmac('sha256', this.signingSecret).update(`${path}\n${date}\n${expires}`).digest('hex');
  }

  private validSignature(url: URL, id: string): boolean {
    const date = url.searchParams.get('X-Amz-Date') ?? '';
    const expires = url.searchParams.get('X-Amz-Expires') ?? '';
    const given = Buffer.from(url.searchParams.get('X-Amz-Signature') ?? '');
    const wanted = Buffer.from(this.sign(`/voice-recordings/${this.workspaceId}/${id}.mp3`, date, expires));
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return false;
    const issued = Date.parse(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    return Date.now() <= issued + Number(expires) * 1000;
  }

  private recordingJson(rec: BirdRecordingSpec, status: BirdStatus): Record<string, unknown> {
    const created = Date.parse(rec.createdAt);
    const durationSeconds = Math.max(1, Math.round(rec.size / 16_000));
    const json: Record<string, unknown> = {
      id: rec.id,
      source: 'call',
      sourceId: rec.sourceId,
      channelId: rec.channelId,
      status,
      direction: 'outgoing',
      originator: { number: { type: 'pstn', number: '3197004499436', identity: '+3197004499436', countryIsoCode: 'NL' } },
      receiver: { number: { type: 'pstn', number: '351919150029', countryIsoCode: 'PT' } },
      origin: 'create-call',
      duration: durationSeconds,
      stereo: false,
      format: 'mp3',
      transcription: false,
      createdAt: rec.createdAt,
      updatedAt: new Date(created + durationSeconds * 1000 + 500).toISOString(),
      startedAt: rec.createdAt,
      endedAt: new Date(created + durationSeconds * 1000).toISOString(),
    };
    if (status === 'available' && !this.options.omitUrlInMetadata) json.url = this.signedUrl(rec);
    return json;
  }
}

function sendXmlError(res: ServerResponse, log: LoggedRequest, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  log.bytesSent += Buffer.byteLength(body);
}
