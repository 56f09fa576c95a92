/**
 * File types of Kore recordings: Kore names v2 files (`fileName`) and v1 data URIs carry a media
 * type. Both map onto the extension the object key gets and the Content-Type it is stored with.
 */

const BY_EXTENSION: Record<string, string> = {
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.webm': 'audio/webm',
  '.m4a': 'audio/mp4',
  '.flac': 'audio/flac',
};

const BY_MIME: Record<string, string> = {
  'audio/wav': '.wav',
  'audio/wave': '.wav',
  'audio/x-wav': '.wav',
  'audio/vnd.wave': '.wav',
  'audio/mpeg': '.mp3',
  'audio/mp3': '.mp3',
  'audio/ogg': '.ogg',
  'audio/webm': '.webm',
  'audio/mp4': '.m4a',
  'audio/x-m4a': '.m4a',
  'audio/flac': '.flac',
};

/** Used when neither a name nor a media type says what the bytes are. */
export const UNKNOWN_TYPE = { contentType: 'application/octet-stream', extension: '.bin' } as const;

/** ".wav" from "call-123.WAV"; undefined when the name has no plausible extension. */
export function extensionOfFileName(fileName: string | undefined): string | undefined {
  const match = /\.([A-Za-z0-9]{1,8})$/.exec(fileName ?? '');
  return match ? `.${match[1]!.toLowerCase()}` : undefined;
}

export function extensionOfMime(mime: string | null | undefined): string | undefined {
  return mime ? BY_MIME[mime.toLowerCase()] : undefined;
}

export function mimeOfExtension(extension: string | undefined): string | undefined {
  return extension ? BY_EXTENSION[extension] : undefined;
}
