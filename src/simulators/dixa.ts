import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { contentKey, contentSha256, deterministicUuid } from './content';
import { FaultPlan, type Fault } from './faults';
import type { SimFile } from './inventory';
import { serveMedia, type MediaBehaviour } from './media';
import { BODY_BREAKS, EXPIRED, MALFORMED_JSON, SERVER_ERRORS, playMix, throttled, type RealisticFaultOptions } from './realistic';
import { SimServer, drained, fileBytesSent, playResponseFault, sendJson, type LoggedRequest } from './server';

export type DixaVisibility = 'public' | 'private';

/**
 * How a file's link is written in the exports and messages. `absolute` and `relative` are the
 * forms Dixa documents; the others are crafted links a client must refuse: the same path on
 * another port (the storage origin), another host name, another scheme, or with user info.
 */
export type DixaLinkForm = 'absolute' | 'relative' | 'other-port' | 'other-host' | 'other-scheme' | 'userinfo';

export interface DixaFileSpec {
  /** Unique among all files; chooses the bytes (with the seed). Letters, digits and dashes. */
  id: string;
  size: number;
  visibility: DixaVisibility;
  link: DixaLinkForm;
  /** The file name at the end of the link (percent-encoded there); may be hostile. */
  name: string;
  contentType?: string;
}

export interface DixaMessageSpec {
  id: string;
  /** Conversation id. */
  csid: number;
  /** created_at, ms. */
  createdAt: number;
  recording?: DixaFileSpec;
  voicemail?: DixaFileSpec;
  attachments?: DixaFileSpec[];
  /** Message text, to make records (and exports) larger. */
  text?: string;
}

/** Messages computed on demand from their index, so a million-record export costs no memory. */
export interface DixaGenerateSpec {
  count: number;
  from: string;
  to: string;
  size: { min: number; max: number };
  /** Every n-th message carries files (recording, attachments, voicemail in turn); the others are text only. Default 1. */
  filesEvery?: number;
  /** Characters of message text per record. Default 40. */
  textBytes?: number;
  /** Attachment names taken from HOSTILE_NAMES. */
  hostileNames?: boolean;
  /** Messages per conversation. Default 3. */
  messagesPerConversation?: number;
}

export interface DixaSimulatorOptions {
  seed?: string;
  apiToken?: string;
  /** Messages declared by the test. */
  messages?: DixaMessageSpec[];
  /** Plus generated ones. */
  generate?: DixaGenerateSpec;
  /** Files host: `redirect` answers 307 to a signed, expiring URL on the storage origin; `direct` serves the bytes itself. */
  delivery?: 'redirect' | 'direct';
  signedUrlTtlSeconds?: number;
  media?: Partial<MediaBehaviour>;
  /** The exports API's limit on a query's span. Default 31. */
  maxWindowDays?: number;
  /**
   * Order of the message export array. Dixa's is unconfirmed; `reversed` (newest first) lets a
   * test prove a client does not depend on it. It holds the window's records in memory.
   */
  exportOrder?: 'created_at' | 'reversed';
  /** Raw values appended to every message export array (malformed records, for error tests). */
  rawExportRecords?: unknown[];
  /** Overlapping message exports, as when data arrives while a client pages. Default: none. */
  exportOverlap?: DixaExportOverlap;
}

export interface DixaExportOverlap {
  /** Every Nth record of an answer comes a second time, after the record that follows it (0: none). */
  repeatEvery?: number;
  /** An answer also holds the records up to this many ms outside the asked bounds, so records near a slice boundary come in both slices. */
  boundaryMs?: number;
}

/** A Dixa file as the platform has it: the message, the kind and the link name it (see DixaFileRef). */
export interface DixaSimFile extends SimFile {
  messageId: string;
  kind: DixaFileRef['kind'];
  /** The link as the exports write it. */
  link: string;
  linkForm: DixaLinkForm;
}

/** File names a client must keep as provenance but never use as a path. */
export const HOSTILE_NAMES: readonly string[] = [
  '../../etc/passwd',
  'evil\u0000name\u0007\u001b[31m\r\n.pdf',
  `${'n'.repeat(996)}.pdf`,
  'C:\\Windows\\system32\\drivers\\etc\\hosts.txt',
];

const ORDINARY_NAMES = ['invoice 2021-12.pdf', 'photo.png', 'notes.txt', 'Skærmbillede 12.01.jpg', 'contract (signed).docx', 'report.xlsx'];
const DAY_MS = 86_400_000;
const CSID_BASE = 100_000;
const TYPES: Record<string, string> = { mp3: 'audio/mpeg', pdf: 'application/pdf', png: 'image/png', txt: 'text/plain', jpg: 'image/jpeg' };

export interface DixaFileRef {
  message: DixaMessageSpec;
  kind: 'recording' | 'voicemail' | 'attachment';
  file: DixaFileSpec;
}

/**
 * Dixa for tests and the demo, on three loopback origins:
 * - exports API: `GET /v1/message_export` and `/v1/conversation_export` with created_after and
 *   created_before (ms or yyyy-mm-dd, both bounds inclusive, at most 31 days apart, else 400),
 *   Bearer or Basic `bearer:<token>` auth, the whole window streamed as one JSON array while it
 *   is generated (a huge array costs no memory); also the main API's
 *   `GET /v1/conversations/{id}/messages` (auth: the bare token) on the same origin;
 * - files host: `/public/...` without auth, `/private/...` with Basic `bearer:<token>`, answering
 *   307 to a signed URL on the storage origin, or the bytes directly;
 * - storage origin: the bytes, with Range and Content-Length switchable.
 * Fault targets: 'export' (id: the query string), 'messages' (id: conversation id), 'files' and
 * 'storage' (id: file id). 'expired' on 'files' redirects to an already-expired URL; on 'storage'
 * the storage refuses the signature. Every request is logged with its headers.
 */
export class DixaSimulator {
  readonly seed: string;
  readonly apiToken: string;
  readonly faults: FaultPlan;
  readonly requests: LoggedRequest[] = [];
  readonly media: MediaBehaviour;
  delivery: 'redirect' | 'direct';
  exportOverlap: DixaExportOverlap;
  signedUrlTtlSeconds: number;
  exportOrder: 'created_at' | 'reversed';
  rawExportRecords: unknown[];
  readonly orgId: string;
  private readonly declared: DixaMessageSpec[];
  private readonly declaredFiles = new Map<string, DixaFileRef>();
  private readonly gen: Required<DixaGenerateSpec> | null;
  private readonly genFrom: number;
  private readonly genSpan: number;
  private readonly maxWindowMs: number;
  private readonly signingSecret: string;
  private readonly exports: SimServer;
  private readonly files: SimServer;
  private readonly storage: SimServer;

  constructor(options: DixaSimulatorOptions = {}) {
    this.seed = options.seed ?? 'dixa';
    this.apiToken = options.apiToken ?? `dixa-token-${deterministicUuid(this.seed, 'token')}`;
    this.faults = new FaultPlan(this.seed);
    this.exportOverlap = options.exportOverlap ?? {};
    this.orgId = deterministicUuid(this.seed, 'org');
    this.media = { range: true, contentLength: true, ...options.media };
    this.delivery = options.delivery ?? 'redirect';
    this.signedUrlTtlSeconds = options.signedUrlTtlSeconds ?? 300;
    this.exportOrder = options.exportOrder ?? 'created_at';
    this.rawExportRecords = options.rawExportRecords ?? [];
    this.maxWindowMs = (options.maxWindowDays ?? 31) * DAY_MS;
    this.signingSecret = `sign-${this.seed}`;
    this.declared = [...(options.messages ?? [])].sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id));
    for (const message of this.declared) for (const ref of filesOf(message)) this.declaredFiles.set(ref.file.id, ref);
    const g = options.generate;
    this.gen = g ? { filesEvery: 1, textBytes: 40, hostileNames: false, messagesPerConversation: 3, ...g } : null;
    this.genFrom = g ? Date.parse(g.from) : 0;
    this.genSpan = g ? Date.parse(g.to) - this.genFrom : 0;
    this.exports = new SimServer('dixa-exports', (req, res, url, log) => this.handleExports(req, res, url, log), this.requests);
    this.files = new SimServer('dixa-files', (req, res, url, log) => this.handleFiles(req, res, url, log), this.requests);
    this.storage = new SimServer('dixa-storage', (req, res, url, log) => this.handleStorage(req, res, url, log), this.requests);
  }

  async start(): Promise<void> {
    await this.exports.start();
    await this.files.start();
    await this.storage.start();
  }

  async stop(): Promise<void> {
    await this.exports.stop();
    await this.files.stop();
    await this.storage.stop();
  }

  /** `exportsBaseUrl` and `apiBaseUrl` of a connection to this simulator. */
  get exportsBaseUrl(): string {
    return this.exports.origin;
  }

  get apiBaseUrl(): string {
    return this.exports.origin;
  }

  get filesBaseUrl(): string {
    return this.files.origin;
  }

  /** The storage origin signed URLs point at, as a host pattern for `storageHosts`. */
  get storageHost(): string {
    return new URL(this.storage.origin).host;
  }

  /** Every message in created_at order: declared and generated, merged lazily. */
  *messages(from = -Infinity, to = Infinity): Generator<DixaMessageSpec> {
    let d = lowerBound(this.declared.length, (i) => this.declared[i]!.createdAt >= from);
    const count = this.gen?.count ?? 0;
    let g = lowerBound(count, (i) => this.generatedTime(i) >= from);
    for (;;) {
      const a = d < this.declared.length && this.declared[d]!.createdAt <= to ? this.declared[d]! : undefined;
      const b = g < count && this.generatedTime(g) <= to ? this.generated(g) : undefined;
      if (!a && !b) return;
      if (a && (!b || a.createdAt < b.createdAt || (a.createdAt === b.createdAt && cmp(a.id, b.id) <= 0))) {
        d++;
        yield a;
      } else {
        g++;
        yield b!;
      }
    }
  }

  /** Every file of every message, in message order. */
  *allFiles(): Generator<DixaFileRef> {
    for (const message of this.messages()) yield* filesOf(message);
  }

  file(fileId: string): DixaFileRef {
    const ref = this.findFile(fileId);
    if (!ref) throw new Error(`no simulated Dixa file ${fileId}`);
    return ref;
  }

  /** The link as the exports and messages write it. */
  linkOf(file: DixaFileSpec): string {
    const path = this.pathOf(file);
    const files = new URL(this.files.origin);
    switch (file.link) {
      case 'absolute':
        return `${this.files.origin}${path}`;
      case 'relative':
        return path;
      case 'other-port':
        return `${this.storage.origin}${path}`;
      case 'other-host':
        return `http://localhost:${files.port}${path}`;
      case 'other-scheme':
        return `https://${files.host}${path}`;
      case 'userinfo':
        return `http://bearer:${encodeURIComponent(this.apiToken)}@${files.host}${path}`;
    }
  }

  sha256(fileId: string): Promise<string> {
    const { file } = this.file(fileId);
    return contentSha256(contentKey(this.seed, file.id), file.size);
  }

  /** File bytes the files host and the storage origin sent for one file, over all requests (error bodies not counted). */
  mediaBytesSent(fileId: string): number {
    return fileBytesSent(this.requests, ['dixa-files', 'dixa-storage'], fileId);
  }

  /** The same as mediaBytesSent (its older name). */
  fileBytesSent(fileId: string): number {
    return this.mediaBytesSent(fileId);
  }

  /** Every request about one file: the files host and the storage origin. */
  requestsFor(fileId: string): LoggedRequest[] {
    return this.requests.filter((r) => r.id === fileId && (r.server === 'dixa-files' || r.server === 'dixa-storage'));
  }

  /** Every file of every message, with its SHA-256. Dixa has no file statuses: all are available. */
  async inventory(): Promise<DixaSimFile[]> {
    const files: DixaSimFile[] = [];
    for (const { message, kind, file } of this.allFiles()) {
      const sha256 = await this.sha256(file.id);
      files.push({
        id: file.id,
        size: file.size,
        sha256,
        availability: 'available',
        status: 'available',
        messageId: message.id,
        kind,
        link: this.linkOf(file),
        linkForm: file.link,
      });
    }
    return files;
  }

  /**
   * Transient faults at `rate` on every target, each succeeding on a later try (RealisticFaultOptions):
   * - 'export' (exports API): 429 with Retry-After, 500, 503, a connection reset inside the
   *   streamed array (at a record drawn over its length) and an array cut short mid-record;
   * - 'messages' (main API): 429, 500, 503 and JSON that does not parse;
   * - 'files' (files host): 429, 500, 503; with `redirect` delivery (as it is at this call) a
   *   redirect to an already-expired signed URL, with `direct` delivery resets and short bodies;
   * - 'storage' (the signed URLs' object store): 500, 503, 403 for an expired signature, body
   *   resets and short bodies at positions drawn inside the body.
   * Plus 429 on every `every429`-th call to the exports API, main API and files host together
   * (the token's quota is shared with other integrations). Unless `overlap` is false, every 5th
   * export record comes twice, and answers reach a minute past their bounds.
   */
  playRealisticFaults(options: RealisticFaultOptions = {}): void {
    const api = [throttled(options.retryAfterSeconds ?? 1), ...SERVER_ERRORS];
    const perTarget = {
      export: [...api, { kind: 'cut', fraction: 'random' } as const, MALFORMED_JSON],
      messages: [...api, MALFORMED_JSON],
      files: [...api, ...(this.delivery === 'redirect' ? [EXPIRED] : BODY_BREAKS)],
      storage: [...SERVER_ERRORS, EXPIRED, ...BODY_BREAKS],
    };
    playMix(this.faults, { perTarget, apiTargets: ['export', 'messages', 'files'], throttled: api[0]! }, options, this.seed);
    if (options.overlap ?? true) this.exportOverlap = { repeatEvery: 5, boundaryMs: 60_000 };
  }

  /** One conversation's messages, oldest first. */
  conversation(csid: number): DixaMessageSpec[] {
    const out = this.declared.filter((m) => m.csid === csid);
    if (this.gen) {
      const per = this.gen.messagesPerConversation;
      const first = (csid - CSID_BASE) * per;
      for (let i = Math.max(0, first); i < Math.min(this.gen.count, first + per); i++) out.push(this.generated(i));
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id));
  }

  // ---- generation -------------------------------------------------------------------------

  private generatedTime(i: number): number {
    return this.genFrom + Math.floor(((i + 0.5) * this.genSpan) / this.gen!.count);
  }

  private generated(i: number): DixaMessageSpec {
    const g = this.gen!;
    const id = deterministicUuid(this.seed, `message-${i}`);
    const message: DixaMessageSpec = {
      id,
      csid: CSID_BASE + Math.floor(i / g.messagesPerConversation),
      createdAt: this.generatedTime(i),
      text: textOf(this.seed, i, g.textBytes),
    };
    if (i % g.filesEvery !== 0) return message;
    const j = i / g.filesEvery;
    const unit = (label: string) => contentKey(this.seed, `${label}-${i}`).readUInt32BE(0) / 0xffffffff;
    const size = (label: string) => Math.round(g.size.min + unit(label) * (g.size.max - g.size.min));
    const form = (label: string): DixaLinkForm => (unit(`form-${label}`) < 0.5 ? 'absolute' : 'relative');
    const attachment = (k: number): DixaFileSpec => {
      const names = g.hostileNames ? HOSTILE_NAMES : ORDINARY_NAMES;
      // Three attachments per four file-carrying messages: number them so every name comes round.
      const ordinal = Math.floor(j / 4) * 3 + (j % 4 === 1 ? 0 : 1 + k);
      const name = names[ordinal % names.length]!;
      const visibility: DixaVisibility = unit(`vis-${k}`) < 0.5 ? 'public' : 'private';
      return { id: `g${i}-a${k}`, size: size(`a${k}`), visibility, link: form(`a${k}`), name, contentType: typeByName(name) };
    };
    switch (j % 4) {
      case 0:
        message.recording = {
          id: `g${i}-r`,
          size: size('r'),
          visibility: 'private',
          link: form('r'),
          name: `${id}.mp3`,
          contentType: 'audio/mpeg',
        };
        break;
      case 1:
        message.attachments = [attachment(0)];
        break;
      case 2:
        message.voicemail = {
          id: `g${i}-v`,
          size: size('v'),
          visibility: 'private',
          link: form('v'),
          name: `voicemail-${id}.mp3`,
          contentType: 'audio/mpeg',
        };
        break;
      default:
        message.attachments = [attachment(0), attachment(1)];
    }
    return message;
  }

  private findFile(fileId: string): DixaFileRef | undefined {
    const declared = this.declaredFiles.get(fileId);
    if (declared) return declared;
    const m = /^g(\d+)-(r|v|a\d+)$/.exec(fileId);
    if (!m || !this.gen || Number(m[1]) >= this.gen.count) return undefined;
    return filesOf(this.generated(Number(m[1]))).find((ref) => ref.file.id === fileId);
  }

  private pathOf(file: DixaFileSpec): string {
    return `/${file.visibility}/${this.orgId}/${file.id}/${encodeURIComponent(file.name)}`;
  }

  // ---- exports API and main API -------------------------------------------------------------

  private exportsAuthorized(header: string | undefined): boolean {
    return header === `Bearer ${this.apiToken}` || header === `Basic ${Buffer.from(`bearer:${this.apiToken}`).toString('base64')}`;
  }

  private async handleExports(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): Promise<void> {
    const conversation = /^\/v1\/conversations\/([^/]+)\/messages$/.exec(url.pathname);
    if (conversation) return this.conversationMessages(req, res, decodeURIComponent(conversation[1]!), log);
    if (!this.exportsAuthorized(req.headers.authorization)) return sendJson(res, log, 401, { message: 'Unauthorized' });
    const kind = url.pathname === '/v1/message_export' ? 'message' : url.pathname === '/v1/conversation_export' ? 'conversation' : null;
    if (!kind) return sendJson(res, log, 404, { message: 'Not found' });
    const fault = this.faults.take('export', url.search);
    if (fault?.kind !== 'malformed-json' && playResponseFault(res, log, fault)) return;
    const after = parseTime(url.searchParams.get('created_after'));
    const before = parseTime(url.searchParams.get('created_before'));
    if (after === null || before === null)
      return sendJson(res, log, 400, { message: 'created_after and created_before are required: Unix ms or yyyy-mm-dd' });
    if (before < after) return sendJson(res, log, 400, { message: 'created_before is before created_after' });
    if (before - after > this.maxWindowMs)
      return sendJson(res, log, 400, { message: `the interval must not exceed ${this.maxWindowMs / DAY_MS} days` });
    await streamArray(
      res,
      log,
      () => (kind === 'message' ? this.messageRecords(after, before) : this.conversationRecords(after, before)),
      fault,
    );
  }

  private *messageRecords(after: number, before: number): Generator<unknown> {
    const margin = this.exportOverlap.boundaryMs ?? 0;
    yield* withRepeats(this.orderedMessages(after - margin, before + margin), this.exportOverlap.repeatEvery ?? 0);
    yield* this.rawExportRecords;
  }

  private *orderedMessages(after: number, before: number): Generator<unknown> {
    if (this.exportOrder === 'reversed') {
      const all = [...this.messages(after, before)];
      for (let i = all.length - 1; i >= 0; i--) yield this.messageRecord(all[i]!);
    } else {
      for (const m of this.messages(after, before)) yield this.messageRecord(m);
    }
  }

  private *conversationRecords(after: number, before: number): Generator<Record<string, unknown>> {
    const seen = new Set<number>();
    for (const m of this.messages(after, before)) {
      if (seen.has(m.csid)) continue;
      seen.add(m.csid);
      yield {
        id: m.csid,
        created_at: m.createdAt,
        initial_channel: m.recording || m.voicemail ? 'pstn' : 'email',
        status: 'closed',
        anonymized_at: null,
      };
    }
  }

  private messageRecord(m: DixaMessageSpec): Record<string, unknown> {
    const call = m.recording ?? m.voicemail;
    return {
      id: m.id,
      csid: m.csid,
      created_at: m.createdAt,
      initial_channel: call ? 'pstn' : 'email',
      direction: 'inbound',
      author_name: 'Simulated Customer',
      author_email: call ? null : 'customer@example.com',
      from_phone_number: call ? '+4512345678' : null,
      to_phone_number: call ? '+4587654321' : null,
      duration: call ? Math.max(1, Math.round(call.size / 16_000)) : null,
      recording_url: m.recording ? this.linkOf(m.recording) : null,
      voicemail_url: m.voicemail ? this.linkOf(m.voicemail) : null,
      attached_files: (m.attachments ?? []).map((f) => this.linkOf(f)),
      text: m.text ?? null,
    };
  }

  /** Main API messages: `{ data: [...] }`, oldest first, createdAt with Dixa's `[GMT]` suffix. */
  private conversationMessages(req: IncomingMessage, res: ServerResponse, id: string, log: LoggedRequest): void {
    log.id = id;
    if (req.headers.authorization !== this.apiToken) return sendJson(res, log, 401, { message: 'Unauthorized' });
    if (playResponseFault(res, log, this.faults.take('messages', id))) return;
    const csid = Number(id);
    const messages = Number.isSafeInteger(csid) ? this.conversation(csid) : [];
    if (messages.length === 0) return sendJson(res, log, 404, { message: `Conversation ${id} not found` });
    sendJson(res, log, 200, {
      data: messages.map((m) => {
        const attributes: Record<string, unknown> = {
          _type: m.voicemail && !m.recording ? 'VoicemailAttributes' : m.recording ? 'CallRecordingAttributes' : 'EmailAttributes',
        };
        const call = m.recording ?? m.voicemail;
        if (call) {
          attributes.recording = this.linkOf(call);
          attributes.duration = Math.max(1, Math.round(call.size / 16_000));
        }
        if (m.attachments?.length) attributes.attachments = m.attachments.map((f) => ({ prettyName: f.name, url: this.linkOf(f) }));
        if (m.text) attributes.content = { _type: 'Text', value: m.text };
        return {
          id: m.id,
          authorId: deterministicUuid(this.seed, `author-${m.csid}`),
          createdAt: `${new Date(m.createdAt).toISOString()}[GMT]`,
          attributes,
        };
      }),
    });
  }

  // ---- files host and storage -------------------------------------------------------------------

  private async handleFiles(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): Promise<void> {
    const m = /^\/(public|private)\/([^/]+)\/([^/]+)\/[^/]*$/.exec(url.pathname);
    const ref = m && m[2] === this.orgId ? this.findFile(m[3]!) : undefined;
    if (m) log.id = m[3];
    if (!ref || ref.file.visibility !== m![1]) return sendJson(res, log, 404, { message: 'File not found' });
    if (
      ref.file.visibility === 'private' &&
      req.headers.authorization !== `Basic ${Buffer.from(`bearer:${this.apiToken}`).toString('base64')}`
    ) {
      return sendJson(res, log, 401, { message: 'Unauthorized' });
    }
    const fault = this.faults.take('files', ref.file.id);
    if (fault?.kind === 'foreign-redirect') {
      res.writeHead(307, { location: fault.location, 'content-length': 0 });
      res.end();
      return;
    }
    if (this.delivery === 'direct' || fault?.kind === 'cut' || fault?.kind === 'short' || fault?.kind === 'slow') {
      return serveMedia(req, res, log, this.mediaFile(ref.file), this.media, fault);
    }
    if (playResponseFault(res, log, fault)) return;
    res.writeHead(307, { location: this.signedUrl(ref.file, fault?.kind === 'expired' ? -60 : undefined), 'content-length': 0 });
    res.end();
  }

  private async handleStorage(req: IncomingMessage, res: ServerResponse, url: URL, log: LoggedRequest): Promise<void> {
    const m = /^\/dixa-files\/([^/]+)$/.exec(url.pathname);
    const id = m?.[1] ?? '';
    log.id = id || undefined;
    const ref = id ? this.findFile(id) : undefined;
    if (!ref) return sendXmlError(res, log, 404, 'NoSuchKey', 'The specified key does not exist.');
    const fault = this.faults.take('storage', id);
    if (fault?.kind === 'expired' || !this.validSignature(url, id))
      return sendXmlError(res, log, 403, 'AccessDenied', 'Request has expired');
    await serveMedia(req, res, log, this.mediaFile(ref.file), this.media, fault);
  }

  private mediaFile(file: DixaFileSpec) {
    return { key: contentKey(this.seed, file.id), size: file.size, contentType: file.contentType ?? 'application/octet-stream' };
  }

  private signedUrl(file: DixaFileSpec, ttlOverride?: number): string {
    const expires = String(Math.floor(Date.now() / 1000) + (ttlOverride ?? this.signedUrlTtlSeconds));
    const path = `/dixa-files/${file.id}`;
    const q = new URLSearchParams({ Expires: expires, Signature: this.sign(path, expires) });
    return `${this.storage.origin}${path}?${q}`;
  }

  private sign(path: string, expires: string): string {
    return createHmac('sha256', this.signingSecret).update(`${path}\n${expires}`).digest('hex');
  }

  private validSignature(url: URL, id: string): boolean {
    const expires = url.searchParams.get('Expires') ?? '';
    const given = Buffer.from(url.searchParams.get('Signature') ?? '');
    const wanted = Buffer.from(this.sign(`/dixa-files/${id}`, expires));
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return false;
    return Date.now() <= Number(expires) * 1000;
  }
}

function filesOf(message: DixaMessageSpec): DixaFileRef[] {
  const refs: DixaFileRef[] = [];
  if (message.recording) refs.push({ message, kind: 'recording', file: message.recording });
  if (message.voicemail) refs.push({ message, kind: 'voicemail', file: message.voicemail });
  for (const file of message.attachments ?? []) refs.push({ message, kind: 'attachment', file });
  return refs;
}

/** Yields each record, and every nth one a second time after the record that follows it. */
function* withRepeats<T>(records: Iterable<T>, every: number): Generator<T> {
  let n = 0;
  let held: { record: T } | undefined;
  for (const record of records) {
    yield record;
    if (held) yield held.record;
    held = every > 0 && ++n % every === 0 ? { record } : undefined;
  }
  if (held) yield held.record;
}

/**
 * Writes `[`, the records and `]` as they are generated, ~64 KiB at a time with back-pressure:
 * the array is never held. `malformed-json` cuts it mid-record after a few records; `cut` drops
 * the connection after that many bytes, or in the middle of the record at that fraction of the
 * array (counted first, by generating it once more).
 */
async function streamArray(
  res: ServerResponse,
  log: LoggedRequest,
  generate: () => Iterable<unknown>,
  fault: Fault | undefined,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json' });
  let closed = false;
  res.once('close', () => (closed = true));
  let cutAfter = fault?.kind === 'cut' && 'afterBytes' in fault ? fault.afterBytes : Infinity;
  const cutRecord = fault?.kind === 'cut' && 'fraction' in fault ? Math.floor(fault.fraction * countOf(generate())) : -1;
  const write = async (text: string): Promise<boolean> => {
    let chunk = Buffer.from(text, 'utf8');
    if (log.bytesSent + chunk.length > cutAfter) chunk = chunk.subarray(0, cutAfter - log.bytesSent);
    log.bytesSent += chunk.length;
    const ok = res.write(chunk);
    if (log.bytesSent >= cutAfter) {
      res.socket?.destroy();
      return false;
    }
    if (!ok) await drained(res);
    return !closed;
  };
  let buffer = '[';
  let n = 0;
  for (const record of generate()) {
    const text = (n > 0 ? ',' : '') + JSON.stringify(record);
    if (n === cutRecord) cutAfter = log.bytesSent + Buffer.byteLength(buffer) + Math.ceil(Buffer.byteLength(text) / 2);
    buffer += text;
    n++;
    if (fault?.kind === 'malformed-json' && n >= 3) {
      await write(`${buffer},{"id":"trunc`);
      res.end();
      return;
    }
    if (buffer.length >= 64 * 1024) {
      if (!(await write(buffer))) return;
      buffer = '';
    }
  }
  // An empty array is cut before its `]`.
  if (n <= cutRecord) cutAfter = log.bytesSent + Buffer.byteLength(buffer);
  if (fault?.kind === 'malformed-json') buffer += ',{"id":"trunc';
  else buffer += ']';
  if (await write(buffer)) res.end();
}

function countOf(items: Iterable<unknown>): number {
  let n = 0;
  for (const _ of items) n++;
  return n;
}

/** Unix ms, or yyyy-mm-dd (UTC midnight). */
function parseTime(value: string | null): number | null {
  if (!value) return null;
  if (/^\d{1,15}$/.test(value)) return Number(value);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

/** First index in [0, n) where the monotone predicate holds (n when none). */
function lowerBound(n: number, holds: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (holds(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function typeByName(name: string): string {
  return TYPES[/\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

/** Deterministic filler text of a given length (cheap: a repeated sentence with the index). */
function textOf(seed: string, i: number, length: number): string {
  if (length <= 0) return '';
  const sentence = `Message ${i} (${seed}): hello, I would like to ask about my order. `;
  return sentence.repeat(Math.ceil(length / sentence.length)).slice(0, length);
}

function sendXmlError(res: ServerResponse, log: LoggedRequest, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  log.bytesSent += Buffer.byteLength(body);
}
