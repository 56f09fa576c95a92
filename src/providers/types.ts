import type { Readable } from 'node:stream';
import type { SourceItem } from '../contracts/sourceItem';
import type { Window } from '../contracts/window';
import type { InPlaceRetry } from './retry';

export interface ListPage {
  items: SourceItem[];
  /** Opaque cursor for the next page, or null when the window is exhausted. */
  nextCursor: string | null;
}

export interface ListOptions {
  signal?: AbortSignal;
  /**
   * Retry each platform call of the page in place on a transient error (a 429 from a shared
   * quota, a 503). A provider whose call still fails after that, with part of the page already
   * listed, ends the page early with a cursor at the first file it has not listed, so the work
   * done is kept. Without it every call is tried once.
   */
  retry?: InPlaceRetry;
  /** Where a provider that must download to count a conversation's files keeps the count. */
  memory?: ListingMemory;
}

/**
 * Counts a listing paid a download for (Kore's v1 API inlines a session's recordings, so counting
 * them means reading them), kept by callvault so a rerun lists such a conversation without
 * fetching a byte. A count is kept only once it is final (more than zero files).
 */
export interface ListingMemory {
  counts(conversationIds: readonly string[]): Promise<Map<string, number>>;
  remember(conversationId: string, files: number): Promise<void>;
}

export interface OpenedDownload {
  body: Readable;
  /** The byte offset of the first byte of `body` within the file (0 when a Range was ignored). */
  offset: number;
  /** Length of this response body when the source declared it. */
  contentLength: number | null;
  /** Size of the whole file when known (from Content-Range, Content-Length or metadata). */
  totalSize: number | null;
  contentType: string;
  /** File extension with the dot, e.g. ".mp3". */
  extension: string;
  /** Where the bytes came from, without query string, credentials or signature. */
  sourceUrl: string;
}

export type DownloadOutcome =
  /**
   * `siblings`: files the listing could not see yet and this download revealed (a Kore session
   * listed while its media was still being processed). The export queues them; already stored
   * ones are skipped as usual, so reporting a sibling twice is harmless.
   */
  | { kind: 'ready'; download: OpenedDownload; siblings?: SourceItem[] }
  /** The platform has it but cannot serve it yet (Bird `ongoing`, Kore `media_in_progress`). */
  | { kind: 'not_ready'; reason: string; retryAfterSeconds: number };

export interface OpenDownloadOptions {
  /** Ask for the file from this byte on (a resumed transfer). The provider may ignore it. */
  offset: number;
  signal?: AbortSignal;
}

/**
 * A contact-center platform, as callvault needs it: list a page of files for a window, and open
 * one file for reading. Everything platform-specific (auth, URL shapes, statuses) stays behind it.
 * Errors are thrown as the classes of src/errors.ts.
 */
export interface Provider {
  readonly providerName: string;
  listPage(window: Window, cursor: string | null, options?: ListOptions): Promise<ListPage>;
  openDownload(item: SourceItem, options: OpenDownloadOptions): Promise<DownloadOutcome>;
  /**
   * The siblings a download of `item` reveals (see DownloadOutcome), asked without downloading:
   * for an item an earlier attempt stored whose result was lost, so its siblings still get queued.
   * Providers whose downloads reveal nothing leave it out.
   */
  revealedBy?(item: SourceItem, signal?: AbortSignal): Promise<SourceItem[]>;
  close(): Promise<void>;
}

/** What the worker publishes about a provider so the server can pace its task queues. */
export interface ProviderLimits {
  /** Listing calls per second the platform allows for one credential. */
  listRequestsPerSecond: number;
  /** Requests per second the platform's API allows for downloads. */
  transferRequestsPerSecond: number;
  /**
   * How many requests to the platform's rate-limited API one file costs (Bird: its metadata, 1).
   * A media GET to a signed URL on an object store is not the platform's API and does not count.
   * The provider contract checks it against the simulator's request log.
   */
  requestsPerFile: number;
}
