/**
 * Streaming decoders for `data:<mime>;base64,<payload>` strings that arrive in pieces of any size.
 * Memory stays at one piece plus up to three carried characters, whatever the payload's size.
 */

/** The data is not a base64 data URI (or not valid base64): retrying cannot change that. */
export class DataUriError extends Error {
  override readonly name = 'DataUriError';
}

/** Anything outside the standard alphabet sends a piece down the slow path (whitespace, padding, url-safe). */
const NOT_PLAIN_BASE64 = /[^A-Za-z0-9+/]/;
const WHITESPACE = /[\t\n\r ]+/g;
const INVALID = /[^A-Za-z0-9+/\-_]/;

/**
 * Decodes base64 pieces as they come, carrying the 0-3 characters of an incomplete quantum to the
 * next piece. Tolerates line breaks (MIME-style base64) and the url-safe alphabet, which Node's
 * decoder reads as well; refuses anything else, and data after the `=` padding.
 */
export class Base64StreamDecoder {
  private carry = '';
  private padded = false;

  write(piece: Buffer): Buffer | null {
    let text = piece.toString('latin1');
    if (NOT_PLAIN_BASE64.test(text)) text = this.clean(text);
    else if (this.padded) throw new DataUriError('base64 data continues after its padding');
    if (text.length === 0) return null;
    const all = this.carry + text;
    const whole = all.length - (all.length % 4);
    this.carry = all.slice(whole);
    return whole > 0 ? Buffer.from(all.slice(0, whole), 'base64') : null;
  }

  /** The payload is complete: decodes what was carried (an unpadded tail is fine, one lone char is not). */
  end(): Buffer | null {
    const rest = this.carry;
    this.carry = '';
    if (rest.length === 1) throw new DataUriError('base64 data ends in the middle of a byte (truncated or corrupt)');
    return rest.length > 0 ? Buffer.from(rest, 'base64') : null;
  }

  private clean(text: string): string {
    let out = text.replace(WHITESPACE, '');
    const pad = out.indexOf('=');
    if (pad !== -1) {
      if (!/^=*$/.test(out.slice(pad))) throw new DataUriError('base64 data continues after its padding');
      out = out.slice(0, pad);
      if (this.padded && out.length > 0) throw new DataUriError('base64 data continues after its padding');
      this.padded = true;
      if (INVALID.test(out)) throw new DataUriError('invalid character in base64 data');
      return out;
    }
    if (this.padded && out.length > 0) throw new DataUriError('base64 data continues after its padding');
    if (INVALID.test(out)) throw new DataUriError('invalid character in base64 data');
    return out;
  }
}

const MAX_HEADER_CHARS = 512;

/**
 * Reads a data URI piece by piece: first the header up to the comma (to learn the media type),
 * then, when `decode` is on, the payload through a Base64StreamDecoder. A string that does not
 * start with `data:` is taken as bare base64 with an unknown media type: the v1 samples always
 * carry the prefix, but nothing is lost by accepting a bare payload.
 */
export class DataUriDecoder {
  private header = '';
  private inHeader = true;
  private mediaType: string | null = null;
  private readonly base64 = new Base64StreamDecoder();

  constructor(private readonly decode: boolean) {}

  /** Whether the header has been read (the media type is known, or known to be absent). */
  get headerDone(): boolean {
    return !this.inHeader;
  }

  /** The media type from the header, lowercased, without parameters; null when there was none. */
  get mime(): string | null {
    return this.mediaType;
  }

  /** Feeds one piece; returns decoded bytes (only when decoding). */
  write(piece: Buffer): Buffer | null {
    if (!this.inHeader) return this.decode ? this.base64.write(piece) : null;
    const comma = piece.indexOf(0x2c);
    const head = piece.subarray(0, comma === -1 ? piece.length : comma);
    this.header += head.toString('latin1');
    if (this.header.length >= 5 && !/^data:/i.test(this.header)) {
      // Bare base64: what was read as a header is payload.
      this.inHeader = false;
      const all = Buffer.from(this.header + (comma === -1 ? '' : piece.subarray(comma).toString('latin1')), 'latin1');
      this.header = '';
      return this.decode ? this.base64.write(all) : null;
    }
    if (comma === -1) {
      if (this.header.length > MAX_HEADER_CHARS) throw new DataUriError('data URI header is too long (no comma)');
      return null;
    }
    this.mediaType = parseHeader(this.header);
    this.header = '';
    this.inHeader = false;
    return this.decode ? this.base64.write(piece.subarray(comma + 1)) : null;
  }

  /** The string has ended. */
  end(): Buffer | null {
    let head: Buffer | null = null;
    if (this.inHeader) {
      // Shorter than "data:": bare base64 of at most a few bytes, or nothing at all.
      this.inHeader = false;
      const rest = this.header;
      this.header = '';
      if (/^data:/i.test(rest)) throw new DataUriError('data URI without a payload');
      if (this.decode && rest.length > 0) head = this.base64.write(Buffer.from(rest, 'latin1'));
    }
    if (!this.decode) return null;
    const tail = this.base64.end();
    return head && tail ? Buffer.concat([head, tail]) : (head ?? tail);
  }
}

function parseHeader(header: string): string | null {
  const params = header
    .slice('data:'.length)
    .split(';')
    .map((p) => p.trim());
  const type = params.shift() ?? '';
  if (!params.some((p) => p.toLowerCase() === 'base64')) throw new DataUriError('data URI is not base64-encoded');
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(type) ? type.toLowerCase() : null;
}
