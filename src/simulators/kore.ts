import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { contentKey, contentSha256, contentStream } from './content';
import { FaultPlan, type Fault } from './faults';
import type { SimFile } from './inventory';
import { serveMedia, type MediaBehaviour } from './media';
import { BODY_BREAKS, EXPIRED, MALFORMED_JSON, SERVER_ERRORS, playMix, throttled, type RealisticFaultOptions } from './realistic';
import { SimServer, bodyPlanOf, fileBytesSent, playResponseFault, sendBody, sendJson, type ErrorBody, type LoggedRequest } from './server';

export type KoreStatus = 'success' | 'call_in_progress' | 'media_in_progress' | 'failed' | 'media_unavailable';
export type KoreFileKind = 'recording' | 'voicemail';

export interface KoreFileSpec {
  size: number;
  format: 'wav' | 'mp3';
}

export interface KoreSessionSpec {
  sessionId: string;
  userId: string;
  /** `korevg` for voice; anything else (`rtm`, `msteams`...) is a chat session. */
  channel: string;
  startTime: string;
  endTime: string;
  recordings: KoreFileSpec[];
  voicemails: KoreFileSpec[];
  status: KoreStatus;
  /** A not-ready session answers `success` after this many polls (recordings and voicemail each count their own). */
  readyAfterPolls?: number;
}

export interface KoreV1Encoding {
  /** Write `/` as `\/` inside the JSON strings (legal JSON, and some serializers do it). */
  escapeSlashes: boolean;
  /** Break the base64 into lines of this many characters with an escaped `\n` (MIME style); 0 for none. */
  lineLength: number;
  /** Surround the array with other keys, one holding a nested decoy `recording` array. */
  extraKeys: boolean;
}

export interface KoreSimulatorOptions {
  seed?: string;
  botId?: string;
  clientId?: string;
  clientSecret?: string;
  sessions: KoreSessionSpec[];
  /** Lifetime of signed media URLs. */
  signedUrlTtlSeconds?: number;
  media?: Partial<MediaBehaviour>;
  /** The docs spell the voicemail key both ways. */
  voicemailKey?: 'voicemail recording' | 'voicemail_recording';
  v1Encoding?: Partial<KoreV1Encoding>;
  /** Answer every authenticated call with 401 "Scope is incorrect" (the app lacks "SmartAssist Recordings"). */
  scopeMissing?: boolean;
  /** Kore's per-bot limit (60/minute); 0 turns it off (the default, so tests run fast). */
  rateLimitPerMinute?: number;
  /**
   * New sessions arriving at the top of the newest-first list between two page requests: the page
   * at skip = k x limit starts k x sessionsShift sessions earlier, so each page repeats this many
   * sessions of the page before (at most limit - 1). Default 0.
   */
  sessionsShift?: number;
}

/** A Kore file as the platform has it; its id is `${sessionId}/${kind}/${index}`. */
export interface KoreSimFile extends SimFile {
  sessionId: string;
  kind: KoreFileKind;
  index: number;
  format: KoreFileSpec['format'];
}

export interface GenerateKoreOptions {
  seed: string;
  count: number;
  from: string;
  to: string;
  /** Every n-th session is a chat session (0: none). */
  chatEvery?: number;
  recordingsPerSession?: { min: number; max: number };
  size: { min: number; max: number };
  /** Every n-th voice session has a voicemail (0: none). */
  voicemailEvery?: number;
}

/** One getSessions request as the simulator parsed it (the request log has no bodies). */
export interface SessionsQuery {
  skip: number;
  limit: number;
  dateFrom: string;
  dateTo: string;
  status: number;
}

const MAX_RANGE_MS = 7 * 24 * 3600 * 1000;
const API_PATH = /^\/api(?:\/1\.1)?\/public\/bot\/([^/]+)\/(getSessions|recordings|v2\/recordings|voicemail)$/;
const MEDIA_PATH = /^\/media\/([^/]+)\/([^/]+)\/(recording|voicemail)\/(\d+)\.(wav|mp3)$/;
const RATE_LIMIT_MESSAGE = 'Rate limit for this API has been reached';
/** Kore's error shape for the status faults the API plays; its 429 always says why. */
const koreError: ErrorBody = (status, msg) => ({
  errors: [{ msg: msg ?? (status === 429 ? RATE_LIMIT_MESSAGE : `simulated HTTP ${status}`), code: status }],
});
const FINAL_STATUSES: readonly KoreStatus[] = ['failed', 'media_unavailable'];
const MIME: Record<KoreFileSpec['format'], string> = { wav: 'audio/wav', mp3: 'audio/mpeg' };

/**
 * A Kore.ai contact-center API for tests and the demo: getSessions (POST, skip/limit, ranges
 * under 7 days, newest first, voice and chat sessions), recordings v1 (base64 data URIs in JSON,
 * generated while streaming, so hundreds of MB cost no memory), recordings v2 and voicemail
 * (statuses, signed expiring `fileUrl`s on a separate media origin), the `auth` JWT checked
 * against the client secret, the missing-scope answer, the rate-limit answer, faults on demand,
 * and a log of every request.
 *
 * Fault targets: 'getSessions' (id: dates, skip and limit), 'v1', 'v2', 'voicemail' (id: sessionId)
 * and 'media' (id: `${sessionId}/${kind}/${index}`). 'foreign-redirect' on 'v2'/'voicemail' puts its location
 * into every fileUrl; 'expired' there hands out already-expired URLs.
 */
export class KoreSimulator {
  readonly seed: string;
  readonly botId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly faults: FaultPlan;
  readonly requests: LoggedRequest[] = [];
  readonly sessionQueries: SessionsQuery[] = [];
  /** See KoreSimulatorOptions.sessionsShift. */
  sessionsShift: number;
  readonly media: MediaBehaviour;
  readonly v1Encoding: KoreV1Encoding;
  voicemailKey: 'voicemail recording' | 'voicemail_recording';
  scopeMissing: boolean;
  rateLimitPerMinute: number;
  signedUrlTtlSeconds: number;
  private readonly sessions: KoreSessionSpec[];
  private readonly byId: Map<string, KoreSessionSpec>;
  private readonly polls = new Map<string, number>();
  private readonly signingSecret: string;
  private readonly recentCalls: number[] = [];
  private readonly api: SimServer;
  private readonly mediaServer: SimServer;

  constructor(options: KoreSimulatorOptions) {
    this.seed = options.seed ?? 'kore';
    this.botId = options.botId ?? `st-${hex(this.seed, 'bot', 32)}`;
    this.clientId = options.clientId ?? `cs-${hex(this.seed, 'client', 32)}`;
    this.clientSecret = options.clientSecret ?? hex(this.seed, 'secret', 40);
    this.signingSecret = `sign-${this.seed}`;
    this.faults = new FaultPlan(this.seed);
    this.sessionsShift = options.sessionsShift ?? 0;
    this.signedUrlTtlSeconds = options.signedUrlTtlSeconds ?? 300;
    this.media = { range: true, contentLength: true, ...options.media };
    this.v1Encoding = { escapeSlashes: false, lineLength: 0, extraKeys: false, ...options.v1Encoding };
    this.voicemailKey = options.voicemailKey ?? 'voicemail_recording';
    this.scopeMissing = options.scopeMissing ?? false;
    this.rateLimitPerMinute = options.rateLimitPerMinute ?? 0;
    // Newest first, as Kore lists them.
    this.sessions = [...options.sessions].sort((a, b) => b.startTime.localeCompare(a.startTime) || a.sessionId.localeCompare(b.sessionId));
    this.byId = new Map(this.sessions.map((s) => [s.sessionId, s]));
    this.api = new SimServer('kore-api', (req, res, url, log) => this.handleApi(req, res, url, log), this.requests);
    this.mediaServer = new SimServer('kore-media', (req, res, url, log) => this.handleMedia(req, res, url, log), this.requests);
  }

  /** Sessions spread evenly over a window; channels, file counts and sizes drawn from the seed. */
  static generate(options: GenerateKoreOptions): KoreSessionSpec[] {
    const from = Date.parse(options.from);
    const span = Date.parse(options.to) - from;
    const counts = options.recordingsPerSession ?? { min: 1, max: 3 };
    let voice = 0;
    return Array.from({ length: options.count }, (_, i) => {
      const unit = (label: string) => contentKey(options.seed, `${label}-${i}`).readUInt32BE(0) / 0xffffffff;
      const isChat = !!options.chatEvery && i % options.chatEvery === options.chatEvery - 1;
      const start = from + Math.floor(((i + 0.5) * span) / options.count);
      const spec: KoreSessionSpec = {
        sessionId: hex(options.seed, `session-${i}`, 24),
        userId: `u-${hex(options.seed, `user-${i % 7}`, 12)}`,
        channel: isChat ? 'rtm' : 'korevg',
        startTime: new Date(start).toISOString(),
        endTime: new Date(start + 60_000 + Math.round(unit('duration') * 600_000)).toISOString(),
        recordings: [],
        voicemails: [],
        status: 'success',
      };
      if (isChat) return spec;
      voice++;
      const n = counts.min + Math.floor(unit('count') * (counts.max - counts.min + 1 - 1e-9));
      spec.recordings = Array.from({ length: n }, (_, r) => ({
        size: sizeOf(options, i, `rec-${r}`),
        format: r % 4 === 3 ? 'mp3' : 'wav',
      }));
      if (options.voicemailEvery && voice % options.voicemailEvery === 0)
        spec.voicemails = [{ size: sizeOf(options, i, 'vm'), format: 'mp3' }];
      return spec;
    });
  }

  async start(): Promise<void> {
    await this.api.start();
    await this.mediaServer.start();
  }

  async stop(): Promise<void> {
    await this.api.stop();
    await this.mediaServer.stop();
  }

  /** The connection's `baseUrl`. */
  get baseUrl(): string {
    return this.api.origin;
  }

  /** The media origin signed URLs point at, as a host pattern for `mediaHosts`. */
  get mediaHost(): string {
    return new URL(this.mediaServer.origin).host;
  }

  list(): readonly KoreSessionSpec[] {
    return this.sessions;
  }

  session(id: string): KoreSessionSpec {
    const s = this.byId.get(id);
    if (!s) throw new Error(`no simulated session ${id}`);
    return s;
  }

  setStatus(id: string, status: KoreStatus, readyAfterPolls?: number): void {
    const s = this.session(id);
    s.status = status;
    s.readyAfterPolls = readyAfterPolls;
    for (const key of [...this.polls.keys()]) if (key.endsWith(`/${id}`)) this.polls.delete(key);
  }

  file(sessionId: string, kind: KoreFileKind, index: number): KoreFileSpec {
    const f = (kind === 'recording' ? this.session(sessionId).recordings : this.session(sessionId).voicemails)[index];
    if (!f) throw new Error(`no simulated ${kind} ${index} in session ${sessionId}`);
    return f;
  }

  /** SHA-256 of a file, named by session, index and kind, or by its file id alone (`${sessionId}/${kind}/${index}`). */
  sha256(sessionOrFileId: string, index?: number, kind: KoreFileKind = 'recording'): Promise<string> {
    const f = fileRef(sessionOrFileId, index, kind);
    return contentSha256(contentKey(this.seed, f.id), this.file(f.sessionId, f.kind, f.index).size);
  }

  /**
   * Media bytes the media origin sent for one file (named as for sha256), over all requests (error
   * bodies not counted). v1 sends no media from there: see v1BytesSent.
   */
  mediaBytesSent(sessionOrFileId: string, index?: number, kind: KoreFileKind = 'recording'): number {
    return fileBytesSent(this.requests, ['kore-media'], fileRef(sessionOrFileId, index, kind).id);
  }

  /** Body bytes of v1 answers for one session: every recording of it, in base64, per answer. */
  v1BytesSent(sessionId: string): number {
    const v1 = this.requests.filter((r) => r.path.endsWith('/recordings') && !r.path.endsWith('/v2/recordings'));
    return fileBytesSent(v1, ['kore-api'], sessionId);
  }

  /** Every request about one file (by file id): its session's v1/v2 or voicemail answers, and its media. */
  requestsFor(id: string): LoggedRequest[] {
    const f = fileRef(id);
    // v1 and v2 recordings both end in /recordings.
    const endpoint = f.kind === 'recording' ? '/recordings' : '/voicemail';
    return this.requests.filter((r) => r.id === id || (r.server === 'kore-api' && r.id === f.sessionId && r.path.endsWith(endpoint)));
  }

  /** Every file of every session, with its SHA-256 and whether it can ever be downloaded. */
  async inventory(): Promise<KoreSimFile[]> {
    const files: KoreSimFile[] = [];
    for (const s of this.sessions) {
      const ready = s.status === 'success' || s.readyAfterPolls !== undefined;
      const availability = ready ? 'available' : FINAL_STATUSES.includes(s.status) ? 'final' : 'pending';
      for (const kind of ['recording', 'voicemail'] as const) {
        for (const [index, f] of (kind === 'recording' ? s.recordings : s.voicemails).entries()) {
          const id = fileId(s.sessionId, kind, index);
          files.push({
            id,
            size: f.size,
            sha256: await this.sha256(id),
            availability,
            status: s.status,
            sessionId: s.sessionId,
            kind,
            index,
            format: f.format,
          });
        }
      }
    }
    return files;
  }

  /**
   * Transient faults at `rate` on every target, each succeeding on a later try (RealisticFaultOptions):
   * - 'getSessions', 'v1', 'v2', 'voicemail' (the bot's API): 429 with Retry-After (and Kore's
   *   rate-limit message, as every 429 here), 500, 503 and JSON that does not parse; plus that
   *   429 on every `every429`-th API call, since the bot's quota is shared by every integration.
   *   'v2' and 'voicemail' also hand out already-expired fileUrls (a long queue before the media
   *   GET), and 'v1' resets its streamed JSON at a position drawn inside it.
   * - 'media' (the signed URLs' store): 500, 503, 403 for an expired signature, resets and short
   *   bodies at positions drawn inside the body.
   * Unless `overlap` is false, getSessions pages after the first repeat 3 sessions of the page before.
   */
  playRealisticFaults(options: RealisticFaultOptions = {}): void {
    const api = [throttled(options.retryAfterSeconds ?? 1), ...SERVER_ERRORS, MALFORMED_JSON];
    const perTarget = {
      getSessions: api,
      v1: [...api, { kind: 'cut', fraction: 'random' } as const],
      v2: [...api, EXPIRED],
      voicemail: [...api, EXPIRED],
      media: [...SERVER_ERRORS, EXPIRED, ...BODY_BREAKS],
    };
    playMix(this.faults, { perTarget, apiTargets: ['getSessions', 'v1', 'v2', 'voicemail'], throttled: api[0]! }, options, this.seed);
    if (options.overlap ?? true) this.sessionsShift = 3;
  }

  /** A token as a Kore app would mint it (for tests that call the simulator directly). */
  mintToken(payload: Record<string, unknown> = { appId: this.clientId, sub: 'test' }, secret = this.clientSecret): string {
    const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): Promise<void> {
    const route = API_PATH.exec(url.pathname);
    if (!route) return sendJson(res, log, 404, { errors: [{ msg: 'Not found', code: 404 }] });
    if (!this.validToken(req.headers.auth))
      return sendJson(res, log, 401, { errors: [{ msg: 'Unauthorized: invalid or missing auth token', code: 401 }] });
    if (this.scopeMissing) return sendJson(res, log, 401, { errors: [{ msg: 'Scope is incorrect', code: 401 }] });
    if (this.rateLimited()) return sendJson(res, log, 429, koreError(429, undefined));
    if (decodeURIComponent(route[1]!) !== this.botId) return sendJson(res, log, 404, { errors: [{ msg: 'Bot not found', code: 404 }] });
    const endpoint = route[2]!;
    if (endpoint === 'getSessions') return this.getSessions(req, res, log);
    if (req.method !== 'GET') return sendJson(res, log, 405, { errors: [{ msg: 'Method not allowed', code: 405 }] });
    const sessionId = url.searchParams.get('sessionId') ?? '';
    log.id = sessionId;
    const session = this.byId.get(sessionId);
    const target = endpoint === 'recordings' ? 'v1' : endpoint === 'v2/recordings' ? 'v2' : 'voicemail';
    const fault = this.faults.take(target, sessionId);
    if (playResponseFault(res, log, fault, koreError)) return;
    if (!session) return sendJson(res, log, 404, { errors: [{ msg: 'Session not found', code: 404 }] });
    if (target === 'v1') return this.sendV1(res, log, session, fault);
    const kind: KoreFileKind = target === 'v2' ? 'recording' : 'voicemail';
    const status = this.currentStatus(session, target);
    const files = kind === 'recording' ? session.recordings : session.voicemails;
    const entries =
      status === 'success'
        ? files.map((f, index) => ({
            fileName: `${session.sessionId}_${kind}_${index}.${f.format}`,
            fileUrl:
              fault?.kind === 'foreign-redirect'
                ? fault.location
                : this.signedUrl(session.sessionId, kind, index, f.format, fault?.kind === 'expired' ? -60 : this.signedUrlTtlSeconds),
          }))
        : [];
    return sendJson(res, log, 200, kind === 'recording' ? { status, recording: entries } : { status, [this.voicemailKey]: entries });
  }

  private async getSessions(req: IncomingMessage, res: ServerResponse, log: LoggedRequest): Promise<void> {
    if (req.method !== 'POST') return sendJson(res, log, 405, { errors: [{ msg: 'Method not allowed', code: 405 }] });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch {
      return sendJson(res, log, 400, { errors: [{ msg: 'Invalid JSON body', code: 400 }] });
    }
    const skip = body.skip === undefined ? 0 : Number(body.skip);
    const limit = body.limit === undefined ? 100 : Number(body.limit);
    const dateFrom = String(body.dateFrom ?? '');
    const dateTo = String(body.dateTo ?? '');
    const query: SessionsQuery = { skip, limit, dateFrom, dateTo, status: 0 };
    this.sessionQueries.push(query);
    const reject = (msg: string) => {
      query.status = 400;
      sendJson(res, log, 400, { errors: [{ msg, code: 400 }] });
    };
    if (playResponseFault(res, log, this.faults.take('getSessions', `${dateFrom}|${dateTo}|${skip}|${limit}`), koreError)) {
      query.status = res.statusCode;
      return;
    }
    const from = Date.parse(dateFrom);
    const to = Date.parse(dateTo);
    if (Number.isNaN(from) || Number.isNaN(to)) return reject('dateFrom and dateTo are required');
    if (to < from || to - from >= MAX_RANGE_MS) return reject('The date range should be less than 7 days');
    if (!Number.isInteger(skip) || skip < 0 || !Number.isInteger(limit) || limit < 1 || limit > 100)
      return reject('skip/limit out of range');
    // Both bounds inclusive: the documented behaviour is silent, and this is the harder reading for clients.
    const inRange = this.sessions.filter((s) => {
      const t = Date.parse(s.startTime);
      return t >= from && t <= to;
    });
    const start = Math.max(0, skip - Math.min(this.sessionsShift, limit - 1) * Math.floor(skip / limit));
    const page = inRange.slice(start, start + limit);
    query.status = 200;
    sendJson(res, log, 200, {
      total: inRange.length,
      moreAvailable: start + limit < inRange.length,
      sessions: page.map((s) => ({
        sessionId: s.sessionId,
        userId: s.userId,
        channel: s.channel,
        start_time: s.startTime,
        end_time: s.endTime,
        containmentType: 'agentTransfer',
        botId: this.botId,
      })),
    });
  }

  /** v1: every recording inline as a base64 data URI, generated while it is sent. */
  private async sendV1(res: ServerResponse, log: LoggedRequest, session: KoreSessionSpec, fault: Fault | undefined): Promise<void> {
    // v1 has no status: a session whose media is not ready simply has no recordings yet.
    const files = this.currentStatus(session, 'v1') === 'success' ? session.recordings : [];
    res.writeHead(200, { 'content-type': 'application/json' });
    // A lower bound of the body's length (the base64 alone), so a fraction cut lands inside it.
    const length = files.reduce((n, f) => n + 4 * Math.ceil(f.size / 3), '{"recording":[]}'.length);
    await sendBody(res, Readable.from(this.v1Body(session.sessionId, files)), log, bodyPlanOf(fault, length));
  }

  private async *v1Body(sessionId: string, files: KoreFileSpec[]): AsyncGenerator<Buffer> {
    const extra = this.v1Encoding.extraKeys;
    yield Buffer.from(
      extra
        ? `{"sessionId":"${sessionId}","meta":{"recording":["decoy",{"a":[1,"]"]}]},"count":${files.length},"recording":[`
        : '{"recording":[',
    );
    for (const [index, file] of files.entries()) {
      const prefix = `data:${MIME[file.format]};base64,`;
      yield Buffer.from(`${index > 0 ? ',' : ''}"${this.v1Encoding.escapeSlashes ? prefix.replace(/\//g, '\\/') : prefix}`);
      const encoder = new Base64JsonEncoder(this.v1Encoding);
      for await (const chunk of contentStream(contentKey(this.seed, fileId(sessionId, 'recording', index)), 0, file.size)) {
        const text = encoder.write(chunk as Buffer);
        if (text.length) yield text;
      }
      yield Buffer.concat([encoder.end(), Buffer.from('"')]);
    }
    yield Buffer.from(extra ? '],"trailer":{"recording":["decoy"]}}' : ']}');
  }

  private async handleMedia(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): Promise<void> {
    const m = MEDIA_PATH.exec(url.pathname);
    const [botId, sessionId, kind, index, format] = m
      ? [m[1]!, m[2]!, m[3] as KoreFileKind, Number(m[4]), m[5] as KoreFileSpec['format']]
      : [];
    const id = sessionId !== undefined && kind !== undefined && index !== undefined ? fileId(sessionId, kind, index) : '';
    log.id = id;
    const session = sessionId ? this.byId.get(sessionId) : undefined;
    const file =
      session && kind && index !== undefined ? (kind === 'recording' ? session.recordings : session.voicemails)[index] : undefined;
    if (botId !== this.botId || !file || file.format !== format) return sendJson(res, log, 404, { message: 'File not found' });
    const fault = this.faults.take('media', id);
    if (fault?.kind === 'expired' || !this.validSignature(url)) return sendJson(res, log, 403, { message: 'Signature expired or invalid' });
    await serveMedia(req, res, log, { key: contentKey(this.seed, id), size: file.size, contentType: MIME[file.format] }, this.media, fault);
  }

  /** The session's status as this endpoint sees it now; each poll of a not-ready session counts. */
  private currentStatus(session: KoreSessionSpec, endpoint: string): KoreStatus {
    if (session.status !== 'call_in_progress' && session.status !== 'media_in_progress') return session.status;
    if (session.readyAfterPolls === undefined) return session.status;
    const key = `${endpoint}/${session.sessionId}`;
    const polls = (this.polls.get(key) ?? 0) + 1;
    this.polls.set(key, polls);
    return polls > session.readyAfterPolls ? 'success' : session.status;
  }

  private validToken(header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false;
    const parts = header.split('.');
    if (parts.length !== 3) return false;
    const [head, body, signature] = parts as [string, string, string];
    try {
      const h = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: unknown };
      if (h.alg !== 'HS256') return false;
      const wanted = createHmac('sha256', this.clientSecret).update(`${head}.${body}`).digest();
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return false;
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as { appId?: unknown; exp?: unknown };
      if (payload.appId !== this.clientId) return false;
      return typeof payload.exp !== 'number' || payload.exp * 1000 > Date.now();
    } catch {
      return false;
    }
  }

  private rateLimited(): boolean {
    if (!this.rateLimitPerMinute) return false;
    const now = Date.now();
    while (this.recentCalls.length > 0 && this.recentCalls[0]! <= now - 60_000) this.recentCalls.shift();
    if (this.recentCalls.length >= this.rateLimitPerMinute) return true;
    this.recentCalls.push(now);
    return false;
  }

  private signedUrl(sessionId: string, kind: KoreFileKind, index: number, format: string, ttlSeconds: number): string {
    const path = `/media/${this.botId}/${sessionId}/${kind}/${index}.${format}`;
    const exp = String(Math.floor(Date.now() / 1000) + ttlSeconds);
    return `${this.mediaServer.origin}${path}?exp=${exp}&sig=${this.sign(path, exp)}`;
  }

  private sign(path: string, exp: string): string {
    return createHmac('sha256', this.signingSecret).update(`${path}\n${exp}`).digest('hex');
  }

  private validSignature(url: URL): boolean {
    const exp = url.searchParams.get('exp') ?? '';
    const given = Buffer.from(url.searchParams.get('sig') ?? '');
    const wanted = Buffer.from(this.sign(url.pathname, exp));
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return false;
    return Date.now() <= Number(exp) * 1000;
  }
}

/**
 * Base64 of a byte stream, as the inside of a JSON string: bytes are encoded in multiples of 3
 * (the 0-2 left over wait for the next chunk), optionally with `\/` escapes and `\n` line breaks.
 */
class Base64JsonEncoder {
  private carry = Buffer.alloc(0);
  private column = 0;

  constructor(private readonly encoding: KoreV1Encoding) {}

  write(chunk: Buffer): Buffer {
    let head = '';
    let start = 0;
    if (this.carry.length > 0) {
      // Complete the carried triplet from the chunk's first bytes; the rest is encoded in place.
      start = Math.min(3 - this.carry.length, chunk.length);
      const joined = Buffer.concat([this.carry, chunk.subarray(0, start)]);
      if (joined.length < 3) {
        this.carry = joined;
        return Buffer.alloc(0);
      }
      head = joined.toString('base64');
    }
    const whole = start + Math.floor((chunk.length - start) / 3) * 3;
    this.carry = Buffer.from(chunk.subarray(whole));
    return this.format(head + chunk.toString('base64', start, whole));
  }

  end(): Buffer {
    const rest = this.carry.toString('base64');
    this.carry = Buffer.alloc(0);
    return this.format(rest);
  }

  private format(text: string): Buffer {
    const width = this.encoding.lineLength;
    if (width > 0 && text.length > 0) {
      const lines: string[] = [];
      let at = Math.min(width - this.column, text.length);
      lines.push(text.slice(0, at));
      for (; at < text.length; at += width) lines.push(text.slice(at, at + width));
      const last = lines[lines.length - 1]!.length;
      this.column = lines.length === 1 ? this.column + last : last;
      // A full last line gets its break now; a partial one continues in the next chunk.
      text = lines.join('\\n') + (this.column === width ? '\\n' : '');
      if (this.column === width) this.column = 0;
    }
    if (this.encoding.escapeSlashes) text = text.replace(/\//g, '\\/');
    return Buffer.from(text, 'latin1');
  }
}

function fileId(sessionId: string, kind: KoreFileKind, index: number): string {
  return `${sessionId}/${kind}/${index}`;
}

/** A file named by session, index and kind, or by its file id alone. */
function fileRef(
  sessionOrFileId: string,
  index?: number,
  kind: KoreFileKind = 'recording',
): { id: string; sessionId: string; kind: KoreFileKind; index: number } {
  if (index !== undefined) return { id: fileId(sessionOrFileId, kind, index), sessionId: sessionOrFileId, kind, index };
  const m = /^(.+)\/(recording|voicemail)\/(\d+)$/.exec(sessionOrFileId);
  if (!m) throw new Error(`not a Kore file id (sessionId/kind/index): ${sessionOrFileId}`);
  return { id: sessionOrFileId, sessionId: m[1]!, kind: m[2] as KoreFileKind, index: Number(m[3]) };
}

function hex(seed: string, label: string, length: number): string {
  return createHash('sha256').update(`${seed}\0${label}`).digest('hex').slice(0, length);
}

function sizeOf(options: GenerateKoreOptions, session: number, label: string): number {
  const unit = contentKey(options.seed, `size-${session}-${label}`).readUInt32BE(0) / 0xffffffff;
  return Math.round(options.size.min + unit * (options.size.max - options.size.min));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
