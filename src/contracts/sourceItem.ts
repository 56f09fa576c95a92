/**
 * The files a listing names, as they cross workflow history. Node-free: the workflow bundle
 * checks carried items with it.
 */

/** What kind of file an item is; `SOURCE_KINDS` lists them for parsers. */
export const SOURCE_KINDS = ['recording', 'voicemail', 'attachment'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

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
