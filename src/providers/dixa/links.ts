import { createHash } from 'node:crypto';
import { UnavailableError } from '../../errors';
import { withoutSecrets } from '../../http/hosts';

/**
 * Dixa file links, as the exports API, the main API and webhooks give them: absolute
 * (`https://files.dixa.io/private/...`) or relative (`/private/...`, `/public/...`). Everything
 * here is pure so the listing (identity, names) and the download (which URL, which credentials)
 * read a link the same way.
 */

/** Longer links are reported as a per-file problem rather than carried through workflow history. */
export const MAX_LINK_LENGTH = 8192;

/**
 * Resolves a link against the files host and refuses anything that would leave it: another host,
 * port or scheme, user info, or a protocol-relative `//elsewhere` link. This is the SSRF guard:
 * a crafted link in an export must never make the worker call an arbitrary address, let alone
 * with the files credential.
 */
export function resolveFileLink(link: string, filesOrigin: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(link, `${filesOrigin}/`);
  } catch {
    throw new UnavailableError(`${what}: the link is not a URL`, 'refused_link');
  }
  if (url.username || url.password) {
    throw new UnavailableError(`${what}: refused link with user info (${withoutSecrets(url)})`, 'refused_link');
  }
  if (url.origin !== filesOrigin) {
    const shown = url.protocol === 'http:' || url.protocol === 'https:' ? withoutSecrets(url) : `a ${url.protocol} URL`;
    throw new UnavailableError(`${what}: refused link to ${shown}, which is not the files host ${filesOrigin}`, 'refused_link');
  }
  return url;
}

/** Dixa's rule: a path under /private/ needs the token, one under /public/ needs nothing. */
export function isPrivatePath(url: URL): boolean {
  return url.pathname.startsWith('/private/');
}

/**
 * What identifies a file across the APIs: its path on the files host, whatever form the link
 * took (absolute and relative forms of one file agree) and without the query string (which a
 * future API could sign per call). A link elsewhere keeps its origin, so a crafted link can never
 * collide with a real file of the same path.
 */
export function linkIdentity(link: string, filesOrigin: string): string {
  try {
    const url = new URL(link, `${filesOrigin}/`);
    return url.origin === filesOrigin && !url.username && !url.password ? url.pathname : withoutSecrets(url);
  } catch {
    return `invalid:${link}`;
  }
}

/**
 * For a link with user info (`http://user:secret@host/...`): the link without it, and a form fit
 * for messages (no query either). Null for links without user info, and for links that do not
 * parse (the download refuses those).
 */
export function withoutUserInfo(link: string, filesOrigin: string): { link: string; shown: string } | null {
  let url: URL;
  try {
    url = new URL(link, `${filesOrigin}/`);
  } catch {
    return null;
  }
  if (!url.username && !url.password) return null;
  url.username = '';
  url.password = '';
  return { link: url.href, shown: withoutSecrets(url) };
}

export function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

/**
 * The file name a link ends with, URL-decoded and otherwise untouched: it may be hostile
 * (`../../etc/passwd`, control characters, a thousand characters). It is kept as provenance;
 * the object key builder sanitizes it. Read from the raw string because URL parsing silently
 * drops tabs and newlines, and the name should say what Dixa said.
 */
export function fileNameOf(link: string): string | undefined {
  const path = link.replace(/[?#].*$/s, '');
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (!last) return undefined;
  try {
    return decodeURIComponent(last);
  } catch {
    return last; // malformed percent-encoding: keep it as given
  }
}

/** ".pdf" from "invoice.PDF"; undefined when the name has no plausible extension. */
export function extensionOf(name: string | undefined): string | undefined {
  const match = /\.([A-Za-z0-9]{1,8})$/.exec(name ?? '');
  return match ? `.${match[1]!.toLowerCase()}` : undefined;
}

const TYPES: Record<string, string> = {
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/opus',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.webm': 'audio/webm',
  '.mp4': 'video/mp4',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.heic': 'image/heic',
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.zip': 'application/zip',
  '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xls': 'application/vnd.ms-excel',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.eml': 'message/rfc822',
};

const EXTENSIONS: Record<string, string> = Object.fromEntries(
  Object.entries(TYPES)
    .filter(([ext]) => !['.oga', '.jpeg'].includes(ext))
    .map(([ext, type]) => [type, ext]),
);

export function contentTypeOf(extension: string | undefined): string {
  return (extension && TYPES[extension]) || 'application/octet-stream';
}

/** The extension for a content type the files host declared, when the link had none. */
export function extensionForType(contentType: string): string {
  return EXTENSIONS[contentType.toLowerCase()] ?? '';
}
