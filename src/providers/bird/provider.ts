import { z } from 'zod';
import type { BirdConnectionConfig } from './connection';
import { TransientError, UnavailableError } from '../../errors';
import { HttpClient, failForStatus, readJson } from '../../http/client';
import { hostAllowed, withoutSecrets } from '../../http/hosts';
import { openedOrFail, rangeHeader } from '../download';
import { RequestPacer } from '../pacer';
import { retryTransient } from '../retry';
import type { DownloadOutcome, ListOptions, ListPage, OpenDownloadOptions, Provider } from '../types';
import type { Window } from '../../contracts/window';
import type { SourceItem } from '../../contracts/sourceItem';

/** The fields callvault reads; the API sends more, and may add more. */
const recordingSchema = z.looseObject({
  id: z.string().min(1).max(200),
  sourceId: z.string().min(1).max(200).optional(),
  status: z.string(),
  format: z.string().max(16).optional(),
  url: z.string().optional(),
  createdAt: z.string(),
});
type Recording = z.infer<typeof recordingSchema>;

const listSchema = z.looseObject({
  results: z.array(z.unknown()),
  nextPageToken: z.string().nullish(),
});

/** Statuses that mean "it will come": wait durably and look again. */
const NOT_YET = new Set(['accepted', 'completed', 'ongoing', 'paused']);
/** Statuses that mean "it never will". */
const FINAL = new Set(['absent', 'failed']);

export class BirdProvider implements Provider {
  readonly providerName = 'bird';
  private readonly api: string;
  private readonly pacer: RequestPacer;

  /** `transferRequestsPerSecond`: the pace of this process's per-file API requests (the connection's transfer limit). */
  constructor(
    private readonly conn: BirdConnectionConfig,
    private readonly accessKey: string,
    transferRequestsPerSecond: number,
    private readonly http: HttpClient = new HttpClient(),
  ) {
    this.api = `${conn.baseUrl.replace(/\/+$/, '')}/workspaces/${encodeURIComponent(conn.workspaceId)}`;
    // Below a millisecond apart there is nothing to space (a lifted limit): no timer on the path.
    const intervalMs = 1000 / transferRequestsPerSecond;
    this.pacer = new RequestPacer(intervalMs >= 1 ? intervalMs : 0);
  }

  private get auth(): Record<string, string> {
    return { authorization: `AccessKey ${this.accessKey}` };
  }

  async listPage(window: Window, cursor: string | null, options: ListOptions = {}): Promise<ListPage> {
    return retryTransient(() => this.listOnce(window, cursor, options.signal), options.retry);
  }

  private async listOnce(window: Window, cursor: string | null, signal?: AbortSignal): Promise<ListPage> {
    const url = new URL(`${this.api}/recordings`);
    url.searchParams.set('limit', String(this.conn.pageSize));
    url.searchParams.set('startAt', window.from);
    url.searchParams.set('endAt', window.to);
    if (cursor) url.searchParams.set('pageToken', cursor);
    const what = `Bird connection '${this.conn.name}': list recordings`;
    const res = await this.http.send({ url, credentialHeaders: this.auth, headers: { accept: 'application/json' }, signal, what });
    if (res.status !== 200) return failForStatus(res, what, [this.accessKey]);
    const parsed = listSchema.safeParse(await readJson(res, what));
    if (!parsed.success) throw new TransientError(`${what}: unexpected response shape (${parsed.error.issues[0]?.message})`);
    const items = parsed.data.results.map((raw, index) => {
      const rec = recordingSchema.safeParse(raw);
      if (!rec.success) {
        const field = rec.error.issues[0]?.path.join('.') ?? '?';
        throw new TransientError(`${what}: results[${index}].${field} is missing or malformed`);
      }
      return toItem(rec.data);
    });
    return { items, nextCursor: parsed.data.nextPageToken || null };
  }

  async openDownload(item: SourceItem, options: OpenDownloadOptions): Promise<DownloadOutcome> {
    const recordingId = item.locator.recordingId ?? item.sourceId;
    const what = `Bird connection '${this.conn.name}': recording ${recordingId}`;
    // Fresh metadata on every attempt: the signed media URL expires after 600 s and is never reused.
    const metaUrl = `${this.api}/recordings/${encodeURIComponent(recordingId)}`;
    await this.pacer.wait(options.signal);
    const metaRes = await this.http.send({ url: metaUrl, credentialHeaders: this.auth, signal: options.signal, what: `${what} metadata` });
    if (metaRes.status !== 200) return failForStatus(metaRes, `${what} metadata`, [this.accessKey]);
    const meta = recordingSchema.safeParse(await readJson(metaRes, `${what} metadata`));
    if (!meta.success) throw new TransientError(`${what} metadata: unexpected response shape`);
    const status = meta.data.status;
    if (FINAL.has(status)) throw new UnavailableError(`${what}: Bird reports status '${status}'`, 'provider_final_status');
    if (NOT_YET.has(status))
      return { kind: 'not_ready', reason: `Bird reports status '${status}'`, retryAfterSeconds: this.conn.notReadyRetrySeconds };
    if (status !== 'available') {
      return {
        kind: 'not_ready',
        reason: `Bird reports an unknown status '${status.slice(0, 40)}'`,
        retryAfterSeconds: this.conn.notReadyRetrySeconds,
      };
    }

    const media = await this.openMedia(meta.data, metaUrl, options, what);
    const fallback = { contentType: contentTypeOf(meta.data.format), extension: extensionOf(meta.data.format) };
    return { kind: 'ready', download: await openedOrFail(media, `${what} media`, fallback, [this.accessKey]) };
  }

  private async openMedia(meta: Recording, metaUrl: string, options: OpenDownloadOptions, what: string) {
    const headers = rangeHeader(options.offset);
    if (meta.url) {
      let signed: URL;
      try {
        signed = new URL(meta.url);
      } catch {
        throw new TransientError(`${what}: metadata carries an invalid media URL`);
      }
      if (!hostAllowed(signed, this.conn.mediaHosts)) {
        throw new UnavailableError(`${what}: media URL host ${withoutSecrets(signed)} is not in mediaHosts`, 'refused_link');
      }
      return this.http.send({ url: signed, headers, redirectHosts: this.conn.mediaHosts, signal: options.signal, what: `${what} media` });
    }
    // No URL in the metadata: the `.mp3` endpoint answers 307 to the same signed URL (a second API request).
    await this.pacer.wait(options.signal);
    return this.http.send({
      url: `${metaUrl}.${meta.format ?? 'mp3'}`,
      headers,
      credentialHeaders: this.auth,
      redirectHosts: this.conn.mediaHosts,
      signal: options.signal,
      what: `${what} media`,
    });
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

function toItem(rec: Recording): SourceItem {
  return {
    sourceId: rec.id,
    conversationId: rec.sourceId ?? rec.id,
    kind: 'recording',
    createdAt: rec.createdAt,
    extension: extensionOf(rec.format),
    locator: { recordingId: rec.id },
  };
}

function extensionOf(format: string | undefined): string {
  const clean = (format ?? 'mp3').toLowerCase().replace(/[^a-z0-9]/g, '');
  return `.${clean || 'mp3'}`;
}

function contentTypeOf(format: string | undefined): string {
  switch ((format ?? 'mp3').toLowerCase()) {
    case 'mp3':
      return 'audio/mpeg';
    case 'wav':
      return 'audio/wav';
    default:
      return 'application/octet-stream';
  }
}
