import type { KoreConnectionConfig } from './connection';
import { UnavailableError } from '../../errors';
import { HttpClient, readJson, type HttpResponse } from '../../http/client';
import { hostAllowed, hostPatternOf, withoutSecrets } from '../../http/hosts';
import { openedOrFail, rangeHeader } from '../download';
import { classifyStatus, parseMediaList, parseSessionsPage, retryAfterSeconds, type KoreSession, type MediaList } from './api';
import { decodeCursor, encodeCursor, queryDates, sessionRanges, type KoreCursor } from './cursor';
import { koreFailForStatus } from './errors';
import { KoreTokenSource } from './jwt';
import { UNKNOWN_TYPE, extensionOfFileName, extensionOfMime, mimeOfExtension } from './media';
import { RequestPacer } from '../pacer';
import { openV1Recording, scanV1Recordings } from './v1Recordings';
import { retryTransient } from '../retry';
import type { DownloadOutcome, ListingMemory, ListOptions, ListPage, OpenDownloadOptions, Provider } from '../types';
import type { Window } from '../../contracts/window';
import type { SourceItem } from '../../contracts/sourceItem';

/**
 * Spacing of this process's Kore API calls when the connection does not say
 * (`minRequestIntervalMs`): 1,800/hour is the sustained limit.
 */
const API_INTERVAL_MS = 2000;

const SESSIONS_LIMIT = 100;
/** Voice sessions per listing call: each costs one or two API calls, paced, inside one 10-minute activity. */
const SESSIONS_PER_CALL = 25;
/** getSessions calls per listing call, so long runs of chat sessions still return in bounded time. */
const PAGES_PER_CALL = 5;
/** Items per listing call, whatever the sessions hold (history stays small). */
const ITEMS_PER_CALL = 250;

type Kind = 'recording' | 'voicemail';

export interface KoreCredentials {
  clientId: string;
  clientSecret: string;
}

export interface KoreProviderOptions {
  http?: HttpClient;
  /** Clock for the JWT's iat/exp and its renewal (tests move it). */
  now?: () => number;
  tokenLifetimeSeconds?: number;
  tokenRenewBeforeSeconds?: number;
  /** Minimum spacing between this provider's Kore API calls; overrides the connection's `minRequestIntervalMs` (tests use 0). */
  apiIntervalMs?: number;
}

/**
 * Kore.ai contact center (SmartAssist) recordings and voicemails, per voice session.
 *
 * Identity: a session's files are numbered in Kore's order, so an item is
 * `{sessionId}-recording-{n}` or `{sessionId}-voicemail-{n}`; the locator carries the session,
 * the index, the API and the kind, never the signed `fileUrl` (it expires, and it must not reach
 * workflow history). Every download asks Kore afresh for the session's files.
 *
 * Sessions not ready at listing time (v2 `call_in_progress`/`media_in_progress`) are listed as
 * one stand-in, `{sessionId}-recording-0` (and `-voicemail-0`), marked `standIn` in its locator,
 * whose download waits (not_ready, for the connection's `notReadyRetrySeconds`) and then fetches
 * the session's first file under the id a later listing gives it too. That download also reports
 * files 1..n-1 of the same kind as siblings (DownloadOutcome), which the export queues: one run
 * stores the whole session. Only stand-ins report siblings, so a listed file never re-reports
 * the others. v1 has no status at all: a session whose media is not ready lists no recordings.
 */
export class KoreProvider implements Provider {
  readonly providerName = 'kore';
  private readonly api: string;
  private readonly tokens: KoreTokenSource;
  private readonly pacer: RequestPacer;
  private readonly http: HttpClient;
  /** Hosts a signed fileUrl may point at: the configured ones, and the platform host itself. */
  private readonly mediaHosts: string[];

  constructor(
    private readonly conn: KoreConnectionConfig,
    credentials: KoreCredentials,
    options: KoreProviderOptions = {},
  ) {
    const base = conn.baseUrl.replace(/\/+$/, '');
    this.api = `${base}/api/public/bot/${encodeURIComponent(conn.botId)}`;
    this.tokens = new KoreTokenSource({
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret,
      lifetimeSeconds: options.tokenLifetimeSeconds,
      renewBeforeSeconds: options.tokenRenewBeforeSeconds,
      now: options.now,
    });
    this.pacer = new RequestPacer(options.apiIntervalMs ?? conn.minRequestIntervalMs ?? API_INTERVAL_MS);
    this.http = options.http ?? new HttpClient();
    this.mediaHosts = [...conn.mediaHosts, hostPatternOf(base)];
  }

  /**
   * Up to SESSIONS_PER_CALL voice sessions of the window, one or two Kore calls each. Each call
   * is retried in place (options.retry); one that still fails after part of the page is listed
   * ends the page there, with a cursor at the session it could not list, so a shared quota's 429s
   * cost a call, never the page.
   */
  async listPage(window: Window, cursor: string | null, options: ListOptions = {}): Promise<ListPage> {
    const ranges = sessionRanges(window);
    let at: KoreCursor = decodeCursor(cursor);
    const items: SourceItem[] = [];
    const retried = <T>(call: () => Promise<T>) => retryTransient(call, options.retry);
    const partial = (err: unknown): ListPage => {
      if (items.length === 0) throw err;
      return { items, nextCursor: encodeCursor(at) };
    };
    let voiceSessions = 0;
    let pages = 0;
    while (at.range < ranges.length) {
      const range = ranges[at.range]!;
      let page: Awaited<ReturnType<KoreProvider['getSessions']>>;
      try {
        page = await retried(() => this.getSessions(range, at.skip, options.signal));
      } catch (err) {
        return partial(err);
      }
      pages++;
      while (at.position < page.sessions.length && voiceSessions < SESSIONS_PER_CALL && items.length < ITEMS_PER_CALL) {
        const session = page.sessions[at.position]!;
        // The range owns sessions that started in it; the query's margin finds them, ownership lists them once.
        if (this.isVoice(session) && session.startedAt >= range.from && session.startedAt < range.to) {
          try {
            items.push(...(await this.itemsOf(session, options)));
          } catch (err) {
            return partial(err);
          }
          voiceSessions++;
        }
        at = { ...at, position: at.position + 1 };
      }
      if (at.position < page.sessions.length) break;
      at = page.moreAvailable
        ? { range: at.range, skip: at.skip + page.received, position: 0 }
        : { range: at.range + 1, skip: 0, position: 0 };
      if (voiceSessions >= SESSIONS_PER_CALL || items.length >= ITEMS_PER_CALL || pages >= PAGES_PER_CALL) break;
    }
    return { items, nextCursor: at.range < ranges.length ? encodeCursor(at) : null };
  }

  async openDownload(item: SourceItem, options: OpenDownloadOptions): Promise<DownloadOutcome> {
    const { sessionId, index: rawIndex, api, kind } = item.locator;
    const index = Number(rawIndex);
    if (!sessionId || !Number.isInteger(index) || index < 0 || (kind !== 'recording' && kind !== 'voicemail')) {
      throw new UnavailableError(`Kore connection '${this.conn.name}': item ${item.sourceId} has an unusable locator`, 'malformed');
    }
    const what = `Kore connection '${this.conn.name}': session ${sessionId} ${kind} ${index}`;
    // Voicemails have one API whatever the recordings API is.
    if (kind === 'recording' && api === 'v1') return this.openV1(sessionId, index, what, options);
    return this.openSigned(item, sessionId, kind, index, what, options);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private isVoice(session: KoreSession): boolean {
    const channel = session.channel.toLowerCase();
    return this.conn.channels.some((c) => c.toLowerCase() === channel);
  }

  private async getSessions(range: { from: number; to: number }, skip: number, signal?: AbortSignal) {
    const what = `Kore connection '${this.conn.name}': getSessions`;
    const body = JSON.stringify({ skip, limit: SESSIONS_LIMIT, ...queryDates(range) });
    const res = await this.call({ url: `${this.api}/getSessions`, method: 'POST', body, what, signal });
    if (res.status !== 200) return koreFailForStatus(res, what, this.tokens.redactions());
    return parseSessionsPage(await readJson(res, what), SESSIONS_LIMIT, what);
  }

  /** One item per file of the session, plus a stand-in for files Kore cannot name yet. */
  private async itemsOf(session: KoreSession, options: ListOptions): Promise<SourceItem[]> {
    const { signal, retry } = options;
    const items = await retryTransient(
      () =>
        this.conn.recordingsApi === 'v1' ? this.listV1(session, signal, options.memory) : this.listSigned(session, 'recording', signal),
      retry,
    );
    if (this.conn.includeVoicemail) items.push(...(await retryTransient(() => this.listSigned(session, 'voicemail', signal), retry)));
    return items;
  }

  private async listSigned(session: KoreSession, kind: Kind, signal?: AbortSignal): Promise<SourceItem[]> {
    const list = await this.fetchMediaList(session.sessionId, kind, signal, true);
    if (list === null) return [];
    const state = classifyStatus(list.status);
    if (state === 'ready' || (state === 'unknown' && list.entries.length > 0)) {
      return list.entries.map((entry, index) => this.item(session, kind, index, extensionOfFileName(entry.fileName), entry.fileName));
    }
    if (kind === 'voicemail' && state !== 'not_ready') {
      // Most sessions have no voicemail; a final or unknown status without files reads as
      // "none", not as a lost file (a failure row per session would bury the real ones).
      return [];
    }
    // Not ready yet (or failed for good): Kore does not say how many files there will be. One
    // stand-in, the session's first file, carries the wait (or the failure row) through the
    // transfer path, and reports the session's other files once it downloads (class comment).
    const standIn = this.item(session, kind, 0, undefined, undefined);
    standIn.locator.standIn = '1';
    return [standIn];
  }

  private async listV1(session: KoreSession, signal?: AbortSignal, memory?: ListingMemory): Promise<SourceItem[]> {
    const counted = (await memory?.counts([session.sessionId]))?.get(session.sessionId);
    if (counted !== undefined) {
      // Counted by an earlier listing: name the files without reading them again (a rerun fetches nothing).
      return Array.from({ length: counted }, (_, index) => this.item(session, 'recording', index, undefined, undefined));
    }
    const what = `Kore connection '${this.conn.name}': session ${session.sessionId} recordings (v1)`;
    const res = await this.call({ url: this.mediaListUrl(session.sessionId, 'recording', 'v1'), what, signal });
    if (res.status === 404) {
      // A session without recordings may answer 404: nothing to list, not an error.
      await res.body.dump().catch(() => undefined);
      return [];
    }
    if (res.status !== 200) return koreFailForStatus(res, what, this.tokens.redactions());
    // Counting v1 recordings means downloading all of them once (v1 inlines the audio and has no
    // count or status); they are streamed through, not kept. v1 is deprecated: prefer v2.
    const elements = await scanV1Recordings(res.body, what);
    if (elements.length > 0) await memory?.remember(session.sessionId, elements.length);
    return elements.map((element, index) =>
      this.item(session, 'recording', index, extensionOfMime(element.mime) ?? UNKNOWN_TYPE.extension, undefined),
    );
  }

  private item(session: KoreSession, kind: Kind, index: number, extension: string | undefined, fileName: string | undefined): SourceItem {
    return this.itemAt(session.sessionId, new Date(session.startedAt).toISOString(), kind, index, extension, fileName);
  }

  private itemAt(
    sessionId: string,
    createdAt: string,
    kind: Kind,
    index: number,
    extension: string | undefined,
    fileName: string | undefined,
  ): SourceItem {
    const item: SourceItem = {
      sourceId: `${sessionId}-${kind}-${index}`,
      conversationId: sessionId,
      kind,
      createdAt,
      locator: { sessionId, index: String(index), api: this.conn.recordingsApi, kind },
    };
    if (extension) item.extension = extension;
    if (fileName) item.originalName = fileName;
    return item;
  }

  private async openV1(sessionId: string, index: number, what: string, options: OpenDownloadOptions): Promise<DownloadOutcome> {
    const res = await this.call({ url: this.mediaListUrl(sessionId, 'recording', 'v1'), what: `${what} (v1)`, signal: options.signal });
    if (res.status !== 200) return koreFailForStatus(res, `${what} (v1)`, this.tokens.redactions());
    // No Range on v1: the bytes are inside a JSON string. The body starts at byte 0 and the
    // transfer engine drops what a resumed upload already holds.
    const { mime, stream } = await openV1Recording(res.body, index, `${what} (v1)`);
    const extension = extensionOfMime(mime) ?? UNKNOWN_TYPE.extension;
    return {
      kind: 'ready',
      download: {
        body: stream,
        offset: 0,
        contentLength: null,
        totalSize: null,
        contentType: mime ?? UNKNOWN_TYPE.contentType,
        extension,
        sourceUrl: withoutSecrets(res.url),
      },
    };
  }

  private async openSigned(
    item: SourceItem,
    sessionId: string,
    kind: Kind,
    index: number,
    what: string,
    options: OpenDownloadOptions,
  ): Promise<DownloadOutcome> {
    // Fresh on every attempt: the signed fileUrl expires and is never stored or reused.
    const list = await this.fetchMediaList(sessionId, kind, options.signal, false);
    if (list === null) throw new UnavailableError(`${what}: Kore answered 404`, 'not_found');
    const status = list.status;
    const state = classifyStatus(status);
    if (state === 'not_ready')
      return {
        kind: 'not_ready',
        reason: `Kore reports status '${status}'`,
        retryAfterSeconds: retryAfterSeconds(status, this.conn.notReadyRetrySeconds),
      };
    if (state === 'final') throw new UnavailableError(`${what}: Kore reports status '${status}'`, 'provider_final_status');
    const entry = list.entries[index];
    if (!entry) {
      if (state === 'unknown') {
        return {
          kind: 'not_ready',
          reason: `Kore reports an unknown status '${String(status).slice(0, 40)}'`,
          retryAfterSeconds: retryAfterSeconds(status, this.conn.notReadyRetrySeconds),
        };
      }
      throw new UnavailableError(`${what}: the session has ${list.entries.length} ${kind} file(s), none at index ${index}`, 'not_found');
    }
    if (!entry.fileUrl) throw new UnavailableError(`${what}: Kore gave no fileUrl`, 'malformed');
    let signed: URL;
    try {
      signed = new URL(entry.fileUrl, this.conn.baseUrl);
    } catch {
      throw new UnavailableError(`${what}: Kore gave an invalid fileUrl`, 'malformed');
    }
    if (!hostAllowed(signed, this.mediaHosts)) {
      throw new UnavailableError(`${what}: fileUrl host ${withoutSecrets(signed)} is not in mediaHosts`, 'refused_link');
    }
    // The URL is signed: no `auth` header goes with it, to its host or any redirect.
    const media = await this.http.send({
      url: signed,
      headers: rangeHeader(options.offset),
      redirectHosts: this.mediaHosts,
      signal: options.signal,
      what: `${what} media`,
    });
    const named = extensionOfFileName(entry.fileName);
    const fallback = { contentType: mimeOfExtension(named) ?? UNKNOWN_TYPE.contentType, extension: named ?? UNKNOWN_TYPE.extension };
    const download = await openedOrFail(media, `${what} media`, fallback, this.tokens.redactions());
    // Without a name, the served Content-Type is the best hint of the file type.
    if (!named) download.extension = extensionOfMime(download.contentType) ?? UNKNOWN_TYPE.extension;
    if (!isStandIn(item)) return { kind: 'ready', download };
    // A stand-in for a session that was not ready at listing time: now Kore names all its files.
    return { kind: 'ready', download, siblings: this.siblingsOf(item, sessionId, kind, list) };
  }

  async revealedBy(item: SourceItem, signal?: AbortSignal): Promise<SourceItem[]> {
    const { sessionId, kind } = item.locator;
    if (!isStandIn(item) || !sessionId || (kind !== 'recording' && kind !== 'voicemail')) return [];
    const list = await this.fetchMediaList(sessionId, kind, signal, true);
    return list === null || classifyStatus(list.status) !== 'ready' ? [] : this.siblingsOf(item, sessionId, kind, list);
  }

  /** Files 1..n-1 of a stand-in's session, as the listing would have named them. */
  private siblingsOf(item: SourceItem, sessionId: string, kind: Kind, list: MediaList): SourceItem[] {
    return list.entries
      .slice(1)
      .map((e, i) => this.itemAt(sessionId, item.createdAt, kind, i + 1, extensionOfFileName(e.fileName), e.fileName));
  }

  /** The v2 recordings or voicemail JSON of a session; null on a 404 while listing (a session without such files). */
  private async fetchMediaList(
    sessionId: string,
    kind: Kind,
    signal: AbortSignal | undefined,
    listing: boolean,
  ): Promise<MediaList | null> {
    const what = `Kore connection '${this.conn.name}': session ${sessionId} ${kind === 'recording' ? 'recordings' : 'voicemail'}`;
    const res = await this.call({ url: this.mediaListUrl(sessionId, kind, 'v2'), what, signal });
    if (res.status === 404 && listing) {
      await res.body.dump().catch(() => undefined);
      return null;
    }
    if (res.status !== 200) return koreFailForStatus(res, what, this.tokens.redactions());
    return parseMediaList(await readJson(res, what), kind, what);
  }

  private mediaListUrl(sessionId: string, kind: Kind, api: 'v1' | 'v2'): URL {
    const path = kind === 'voicemail' ? 'voicemail' : api === 'v2' ? 'v2/recordings' : 'recordings';
    const url = new URL(`${this.api}/${path}`);
    url.searchParams.set('sessionId', sessionId);
    return url;
  }

  /** A Kore API call: paced, with a cached JWT in the `auth` header (kept on the API's origin only). */
  private async call(request: {
    url: string | URL;
    method?: 'GET' | 'POST';
    body?: string;
    what: string;
    signal?: AbortSignal;
  }): Promise<HttpResponse> {
    await this.pacer.wait(request.signal);
    return this.http.send({
      url: request.url,
      method: request.method ?? 'GET',
      headers: { accept: 'application/json', ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: request.body,
      credentialHeaders: { auth: this.tokens.token() },
      signal: request.signal,
      what: request.what,
    });
  }
}

/** The stand-in of a session whose files Kore could not name at listing time (its first file). */
function isStandIn(item: SourceItem): boolean {
  return item.locator.standIn === '1' && item.locator.index === '0';
}
