import type { Readable } from 'node:stream';
import type { InPlaceRetry } from './retry';

/** A half-open time window [from, to), ISO-8601 strings so it can cross into workflow history. */
export interface ExportWindow {
  from: string;
  to: string;
}

export type SourceKind = 'recording' | 'voicemail' | 'attachment';

/**
 * One file to export, as the listing found it. It travels through workflow history, so it holds
 * identities only: never a signed URL, token or header. Whatever the download needs beyond the
 * identity goes in `locator`, which the provider alone reads.
 */
export interface SourceItem {
  /** Unique within the connection, stable across runs: the exactly-once key. */
  sourceId: string;
  conversationId: string;
  messageId?: string;
  kind: SourceKind;
  /** When the source created it (ISO-8601); chooses the date folders of the object key. */
  createdAt: string;
  /** File extension with the dot (".mp3") when the listing knows it; lets a retry find its upload by key. */
  extension?: string;
  /** The name the platform gave the file, kept for provenance (the key uses a sanitized one). */
  originalName?: string;
  /** Provider-private, credential-free hints for opening the download later. */
  locator: Record<string, string>;
}

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
  listPage(window: ExportWindow, cursor: string | null, options?: ListOptions): Promise<ListPage>;
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
  /** Requests per second the platform allows for downloads (metadata + media). */
  transferRequestsPerSecond: number;
  /** How many requests one file costs (e.g. metadata + media = 2). */
  requestsPerFile: number;
}
