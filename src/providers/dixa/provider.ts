import { z } from 'zod';
import type { DixaConnectionConfig } from './connection';
import { ConfigurationError, CredentialsRejectedError, TransientError, UnavailableError } from '../../errors';
import { HttpClient, failForStatus, networkError, readJson, type HttpResponse } from '../../http/client';
import { openedOrFail, rangeHeader } from '../download';
import {
  compareKeys,
  decodeCursor,
  encodeCursor,
  firstSlice,
  nextSlice,
  sliceLengthMs,
  sliceQuery,
  type RecordKey,
  type SliceCursor,
} from './cursor';
import { MalformedRecordError, conversationMessageItems, exportRecordItems, type MappedRecord, type MappingContext } from './items';
import { JsonArrayError, jsonArrayElements } from '../../json/arrayElements';
import { contentTypeOf, extensionForType, isPrivatePath, resolveFileLink } from './links';
import { retryTransient } from '../retry';
import type { DownloadOutcome, ListOptions, ListPage, OpenDownloadOptions, Provider } from '../types';
import type { Window } from '../../contracts/window';
import type { SourceItem } from '../../contracts/sourceItem';
import { KiB } from '../../contracts/units';

export { conversationMessageItems, exportRecordItems, MalformedRecordError, type MappedRecord, type MappingContext } from './items';

/**
 * A page stays far below Temporal's 2 MB payload limit (and near its 256 KB warning): at most 300
 * items and about 512 KB of JSON, whichever comes first, even with 1,000-character hostile names.
 */
const MAX_PAGE_ITEMS = 300;
const MAX_PAGE_BYTES = 512 * KiB;

const messagesSchema = z.looseObject({ data: z.array(z.unknown()) });

interface Candidate {
  key: RecordKey;
  items: SourceItem[];
  /** Items before this one went out on an earlier page. */
  firstItem: number;
}

/**
 * Dixa: bulk listing through the exports API's message export (streamed, sliced, paged by
 * record key), downloads from the files host with its Basic `bearer:<token>` credential for
 * private files only, and the main API's per-conversation messages for webhook-driven exports.
 */
export class DixaProvider implements Provider {
  readonly providerName = 'dixa';
  private readonly exportsBase: string;
  private readonly apiBase: string;
  private readonly filesOrigin: string;
  private readonly sliceMs: number;
  private readonly filesCredential: string;
  private readonly redact: string[];
  private readonly ctx: MappingContext;

  constructor(
    private readonly conn: DixaConnectionConfig,
    private readonly apiToken: string,
    private readonly http: HttpClient = new HttpClient(),
  ) {
    this.exportsBase = conn.exportsBaseUrl.replace(/\/+$/, '');
    this.apiBase = conn.apiBaseUrl.replace(/\/+$/, '');
    this.filesOrigin = new URL(conn.filesBaseUrl).origin;
    this.sliceMs = sliceLengthMs(conn.windowDays);
    this.filesCredential = Buffer.from(`bearer:${apiToken}`).toString('base64');
    this.redact = [apiToken, this.filesCredential];
    this.ctx = { filesOrigin: this.filesOrigin };
  }

  async listPage(window: Window, cursor: string | null, options: ListOptions = {}): Promise<ListPage> {
    return retryTransient(() => this.listOnce(window, cursor, options.signal), options.retry);
  }

  private async listOnce(window: Window, cursor: string | null, signal?: AbortSignal): Promise<ListPage> {
    const from = Date.parse(window.from);
    const to = Date.parse(window.to);
    if (Number.isNaN(from) || Number.isNaN(to))
      throw new ConfigurationError(`Dixa connection '${this.conn.name}': window ${window.from}..${window.to} is not two ISO-8601 times`);
    if (to <= from) return { items: [], nextCursor: null };
    const slice = cursor ? decodeCursor(cursor, from, to) : firstSlice(from, to, this.sliceMs);
    const what = `Dixa connection '${this.conn.name}': message export ${new Date(slice.s).toISOString()}..${new Date(slice.e).toISOString()}`;
    const { createdAfter, createdBefore } = sliceQuery(slice);
    const url = new URL(`${this.exportsBase}/v1/message_export`);
    url.searchParams.set('created_after', String(createdAfter));
    url.searchParams.set('created_before', String(createdBefore));
    const res = await this.http.send({ url, headers: { accept: 'application/json' }, credentialHeaders: this.exportsAuth, signal, what });
    if (res.status !== 200) return this.fail(res, what, 'exports');
    let candidates: Candidate[];
    let more: boolean;
    try {
      ({ candidates, more } = await this.selectPage(res, slice, what));
    } finally {
      res.body.destroy();
    }
    return this.emit(candidates, more, slice, to);
  }

  /**
   * Reads the whole slice as a stream and keeps the records with the smallest keys after the
   * cursor (at most one page's worth, since each carries at least one file). Memory: one element
   * plus 2 x 300 candidates, however large the array.
   */
  private async selectPage(res: HttpResponse, slice: SliceCursor, what: string): Promise<{ candidates: Candidate[]; more: boolean }> {
    const candidates: Candidate[] = [];
    let more = false;
    let threshold: RecordKey | null = null; // once pruned: anything larger cannot make this page
    try {
      for await (const element of jsonArrayElements(res.body)) {
        let mapped: MappedRecord;
        try {
          mapped = exportRecordItems(JSON.parse(element.bytes.toString('utf8')), this.ctx);
        } catch (err) {
          // One unreadable record makes the whole listing suspect: loud, and retried.
          if (err instanceof SyntaxError) throw new TransientError(`${what}: record [${element.index}] is not valid JSON`);
          if (err instanceof MalformedRecordError) throw new TransientError(`${what}: record [${element.index}] ${err.message}`);
          throw err;
        }
        const t = mapped.createdAtMs;
        if (mapped.items.length === 0 || t === null || t < slice.s || t >= slice.e) continue;
        const key = { t, id: mapped.id };
        let firstItem = 0;
        if (slice.after) {
          const order = compareKeys(key, slice.after);
          if (order < 0) continue;
          if (order === 0) {
            firstItem = slice.after.items;
            if (firstItem >= mapped.items.length) continue;
          }
        }
        if (threshold && compareKeys(key, threshold) > 0) {
          more = true;
          continue;
        }
        candidates.push({ key, items: mapped.items, firstItem });
        if (candidates.length >= 2 * MAX_PAGE_ITEMS) {
          sortUnique(candidates);
          if (candidates.length > MAX_PAGE_ITEMS) {
            candidates.length = MAX_PAGE_ITEMS;
            threshold = candidates[MAX_PAGE_ITEMS - 1]!.key;
            more = true;
          }
        }
      }
    } catch (err) {
      if (err instanceof JsonArrayError) throw new TransientError(`${what}: malformed JSON in the response (${err.message})`);
      throw networkError(err, what);
    }
    sortUnique(candidates);
    if (candidates.length > MAX_PAGE_ITEMS) {
      candidates.length = MAX_PAGE_ITEMS;
      more = true;
    }
    return { candidates, more };
  }

  private emit(candidates: Candidate[], more: boolean, slice: SliceCursor, to: number): ListPage {
    const items: SourceItem[] = [];
    let bytes = 0;
    for (const c of candidates) {
      for (let j = c.firstItem; j < c.items.length; j++) {
        const item = c.items[j]!;
        const size = JSON.stringify(item).length;
        if (items.length >= MAX_PAGE_ITEMS || (items.length > 0 && bytes + size > MAX_PAGE_BYTES)) {
          return { items, nextCursor: encodeCursor({ s: slice.s, e: slice.e, after: { ...c.key, items: j } }) };
        }
        items.push(item);
        bytes += size;
      }
    }
    const last = candidates[candidates.length - 1];
    if (more && last)
      return { items, nextCursor: encodeCursor({ s: slice.s, e: slice.e, after: { ...last.key, items: last.items.length } }) };
    const next = nextSlice(slice, to, this.sliceMs);
    return { items, nextCursor: next ? encodeCursor(next) : null };
  }

  async openDownload(item: SourceItem, options: OpenDownloadOptions): Promise<DownloadOutcome> {
    const what = `Dixa connection '${this.conn.name}': ${item.kind} ${item.sourceId}`;
    if (item.locator.problem) throw new UnavailableError(`${what}: ${item.locator.problem}`, 'malformed');
    if (item.locator.refused) throw new UnavailableError(`${what}: ${item.locator.refused}`, 'refused_link');
    const link = item.locator.link;
    if (!link) throw new UnavailableError(`${what}: the listing gave no link`, 'malformed');
    const url = resolveFileLink(link, this.filesOrigin, what);
    const res = await this.http.send({
      url,
      headers: rangeHeader(options.offset),
      // Dixa's rule: only /private/ needs the credential; and HttpClient drops it on any redirect off the files host.
      credentialHeaders: isPrivatePath(url) ? { authorization: `Basic ${this.filesCredential}` } : undefined,
      redirectHosts: this.conn.storageHosts,
      signal: options.signal,
      what,
    });
    const fallback = { contentType: contentTypeOf(item.extension), extension: item.extension ?? '' };
    const download = await openedOrFail(res, what, fallback, this.redact).catch((err: unknown) => {
      throw refusedBy(err, 'files');
    });
    if (!item.extension) download.extension = extensionForType(download.contentType);
    return { kind: 'ready', download };
  }

  /**
   * The files of one conversation, from the main API (`GET /v1/conversations/{id}/messages`), as
   * the same SourceItems the bulk listing yields: for webhook-driven or single-conversation
   * exports. Not used by listPage.
   */
  async conversationItems(conversationId: string, signal?: AbortSignal): Promise<SourceItem[]> {
    const what = `Dixa connection '${this.conn.name}': messages of conversation ${conversationId}`;
    const url = `${this.apiBase}/v1/conversations/${encodeURIComponent(conversationId)}/messages`;
    const res = await this.http.send({
      url,
      headers: { accept: 'application/json' },
      credentialHeaders: { authorization: this.apiToken },
      signal,
      what,
    });
    if (res.status !== 200) return this.fail(res, what, 'api');
    const parsed = messagesSchema.safeParse(await readJson(res, what));
    if (!parsed.success) throw new TransientError(`${what}: unexpected response shape (${parsed.error.issues[0]?.message})`);
    return parsed.data.data.flatMap((message, index) => {
      try {
        return conversationMessageItems(conversationId, message, this.ctx).items;
      } catch (err) {
        if (err instanceof MalformedRecordError) throw new TransientError(`${what}: data[${index}] ${err.message}`);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async fail(res: HttpResponse, what: string, surface: DixaSurface): Promise<never> {
    try {
      return await failForStatus(res, what, this.redact);
    } catch (err) {
      throw refusedBy(err, surface);
    }
  }

  private get exportsAuth(): Record<string, string> {
    return { authorization: this.conn.exportsAuth === 'basic' ? `Basic ${this.filesCredential}` : `Bearer ${this.apiToken}` };
  }
}

/** Which of Dixa's hosts refused the token: the descriptor's explanation depends on it. */
export type DixaSurface = 'exports' | 'files' | 'api';

/** A refused token, marked with the host that refused it (CredentialsRejectedError.about); anything else as it is. */
function refusedBy(err: unknown, surface: DixaSurface): unknown {
  return err instanceof CredentialsRejectedError ? new CredentialsRejectedError(err.message, surface) : err;
}

/** Sorts by record key and drops repeats (the same record twice in one answer is one record). */
function sortUnique(candidates: Candidate[]): void {
  candidates.sort((a, b) => compareKeys(a.key, b.key));
  let w = 0;
  for (let r = 0; r < candidates.length; r++) {
    if (w > 0 && compareKeys(candidates[w - 1]!.key, candidates[r]!.key) === 0) continue;
    candidates[w++] = candidates[r]!;
  }
  candidates.length = w;
}
