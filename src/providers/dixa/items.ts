import type { SourceItem, SourceKind } from '../../contracts/sourceItem';
import { MAX_LINK_LENGTH, extensionOf, fileNameOf, linkIdentity, shortHash, withoutUserInfo } from './links';

/**
 * Dixa records (exports API message records, main API messages) mapped onto SourceItems. Both
 * paths produce the same sourceId for the same file, so an export that ran from the bulk API and
 * one that ran from webhooks land on the same object key:
 *
 *   `${messageId}:recording`, `${messageId}:voicemail`,
 *   `${messageId}:attachment:${first 16 hex of sha256(link path)}`
 *
 * Attachments are named by their link path rather than their position because the two APIs are
 * not known to list attachments in the same order, and a path is what both certainly share.
 */

/** A record the listing cannot read at all (not an object, no id): the caller makes it loud. */
export class MalformedRecordError extends Error {
  override readonly name = 'MalformedRecordError';
}

export interface MappingContext {
  /** Origin of the files host (`https://files.dixa.io`): relative links are paths on it. */
  filesOrigin: string;
}

export interface MappedRecord {
  id: string;
  /** created_at in ms, or null for a record without files (its time is never needed). */
  createdAtMs: number | null;
  items: SourceItem[];
}

const MAX_ID_LENGTH = 200;

/**
 * One message record of `GET /v1/message_export` (field names from tap-dixa and Airbyte, the
 * official schema is unconfirmed): `id`, `csid`, `created_at` (ms), `recording_url`,
 * `voicemail_url`, `attached_files` (link strings; `{url}` objects accepted too).
 */
export function exportRecordItems(record: unknown, ctx: MappingContext): MappedRecord {
  if (!isObject(record)) throw new MalformedRecordError(`is ${describeType(record)}, not an object`);
  const id = idOf(record.id, 'id');
  const links: Array<{ kind: SourceKind; link: unknown }> = [];
  if (present(record.recording_url)) links.push({ kind: 'recording', link: record.recording_url });
  if (present(record.voicemail_url)) links.push({ kind: 'voicemail', link: record.voicemail_url });
  const attached = record.attached_files;
  if (present(attached)) {
    if (!Array.isArray(attached)) throw new MalformedRecordError(`attached_files is ${describeType(attached)}, not an array`);
    for (const entry of attached) links.push({ kind: 'attachment', link: isObject(entry) && 'url' in entry ? entry.url : entry });
  }
  if (links.length === 0) return { id, createdAtMs: null, items: [] };
  const conversationId = idOf(record.csid, 'csid');
  const createdAtMs = timeOf(record.created_at, 'created_at');
  return { id, createdAtMs, items: toItems(id, conversationId, createdAtMs, links, ctx) };
}

/**
 * One message of `GET /v1/conversations/{id}/messages` (main API) or of a
 * CONVERSATION_MESSAGE_ADDED webhook: `{ id, createdAt, attributes }`, attachments as
 * `{ prettyName, url }` under `attributes.attachments` (and `inlineImages` for email), a call
 * recording as the link `attributes.recording`. A recording whose `attributes._type` names a
 * voicemail is a voicemail (shapes from typed clients, unconfirmed against the official spec).
 */
export function conversationMessageItems(conversationId: string, message: unknown, ctx: MappingContext): MappedRecord {
  if (!isObject(message)) throw new MalformedRecordError(`is ${describeType(message)}, not an object`);
  const id = idOf(message.id, 'id');
  const attributes = isObject(message.attributes) ? message.attributes : {};
  const links: Array<{ kind: SourceKind; link: unknown }> = [];
  if (present(attributes.recording)) {
    const voicemail = typeof attributes._type === 'string' && /voicemail/i.test(attributes._type);
    links.push({ kind: voicemail ? 'voicemail' : 'recording', link: attributes.recording });
  }
  for (const field of ['attachments', 'inlineImages'] as const) {
    const list = attributes[field];
    if (!present(list)) continue;
    if (!Array.isArray(list)) throw new MalformedRecordError(`attributes.${field} is ${describeType(list)}, not an array`);
    for (const entry of list) links.push({ kind: 'attachment', link: isObject(entry) ? entry.url : entry });
  }
  if (links.length === 0) return { id, createdAtMs: null, items: [] };
  const createdAtMs = timeOf(message.createdAt, 'createdAt');
  return { id, createdAtMs, items: toItems(id, idOf(conversationId, 'conversation id'), createdAtMs, links, ctx) };
}

function toItems(
  messageId: string,
  conversationId: string,
  createdAtMs: number,
  links: Array<{ kind: SourceKind; link: unknown }>,
  ctx: MappingContext,
): SourceItem[] {
  const createdAt = new Date(createdAtMs).toISOString();
  const seen = new Set<string>();
  const items: SourceItem[] = [];
  for (const { kind, link } of links) {
    const item = toItem(messageId, conversationId, createdAt, kind, link, ctx);
    // The same file listed twice in one message is one file: one item, one object.
    if (seen.has(item.sourceId)) continue;
    seen.add(item.sourceId);
    items.push(item);
  }
  return items;
}

function toItem(
  messageId: string,
  conversationId: string,
  createdAt: string,
  kind: SourceKind,
  link: unknown,
  ctx: MappingContext,
): SourceItem {
  const base = { conversationId, messageId, kind, createdAt };
  // A link we cannot use is still an item, so the export records a failure row for it instead
  // of skipping it silently; the download refuses it with the reason kept in the locator.
  if (typeof link !== 'string' || link.length === 0) {
    const problem = `the ${kind} link is ${describeType(link)}, not a URL string`;
    const sourceId =
      kind === 'attachment' ? `${messageId}:attachment:${shortHash(`invalid:${JSON.stringify(link) ?? ''}`)}` : `${messageId}:${kind}`;
    return { ...base, sourceId, locator: { problem } };
  }
  const sourceId =
    kind === 'attachment' ? `${messageId}:attachment:${shortHash(linkIdentity(link, ctx.filesOrigin))}` : `${messageId}:${kind}`;
  if (link.length > MAX_LINK_LENGTH) {
    return { ...base, sourceId, locator: { problem: `the ${kind} link is ${link.length} characters long (limit ${MAX_LINK_LENGTH})` } };
  }
  const name = fileNameOf(link);
  const extension = extensionOf(name);
  // A link with user info carries credentials (whoever wrote it): it must not reach workflow
  // history, and it is refused anyway. The item keeps the link without them, and the reason.
  const stripped = withoutUserInfo(link, ctx.filesOrigin);
  const locator: Record<string, string> = stripped
    ? { link: stripped.link, refused: `refused link with user info (${stripped.shown})` }
    : { link };
  const item: SourceItem = { ...base, sourceId, locator };
  if (extension) item.extension = extension;
  if (kind === 'attachment' && name !== undefined) item.originalName = name;
  return item;
}

function idOf(value: unknown, field: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH) return value;
  throw new MalformedRecordError(`${field} is ${value === undefined ? 'missing' : `not a usable id (${describeType(value)})`}`);
}

/** Milliseconds since the epoch, a numeric string, or ISO-8601 with Dixa's `[GMT]` zone suffix. */
function timeOf(value: unknown, field: string): number {
  let ms = Number.NaN;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string' && /^\d{1,15}$/.test(value)) ms = Number(value);
  else if (typeof value === 'string') ms = Date.parse(value.replace(/\[[^\]]*\]$/, ''));
  // Year 1970..9999: anything else is a unit mix-up (seconds for ms) or garbage.
  if (!Number.isFinite(ms) || ms < 0 || ms > 253_402_300_799_999) {
    throw new MalformedRecordError(`${field} is ${value === undefined ? 'missing' : 'not a usable time'}`);
  }
  return Math.trunc(ms);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
