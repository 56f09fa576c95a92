import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE, UNICODE_ESCAPE, isWhitespace } from './lexing';

/**
 * A push scanner for one shape of JSON: a top-level object with an array of strings under one
 * key, `{ "recording": ["...", "..."], ...other keys }`, where each string may be hundreds of MB
 * (Kore's v1 recordings API inlines the audio as base64). It hands the unescaped contents of each
 * element to a handler chunk by chunk, as slices of the input where no escape intervenes, so
 * nothing is ever held beyond the chunk being scanned. Other keys and nested values are walked
 * over, not built. It checks structure only as far as it needs to (brackets, strings, escapes);
 * it is not a validating parser.
 */

/** Callbacks for the elements of the target array. Slices passed to `data` are only valid during the call. */
export interface StringArrayHandler {
  start(index: number): void;
  data(index: number, text: Buffer): void;
  end(index: number): void;
  /** An element that is not a string (null, number, object...): counted, contents skipped. */
  other(index: number): void;
}

/** The body is not the JSON this scanner expects (or was cut short). */
export class JsonScanError extends Error {
  override readonly name = 'JsonScanError';
}

const MAX_DEPTH = 64;
const MAX_KEY_CHARS = 256;

const SIMPLE_ESCAPES: Record<number, string> = {
  0x22: '"',
  0x5c: '\\',
  0x2f: '/',
  0x62: '\b',
  0x66: '\f',
  0x6e: '\n',
  0x72: '\r',
  0x74: '\t',
};

type StringRole = 'key' | 'element' | 'skip';

export class JsonStringArrayScanner {
  private readonly stack: number[] = [];
  private started = false;
  private finished = false;
  private inString = false;
  private role: StringRole = 'skip';
  /** 0: none; 1: after a backslash; 2: inside \uXXXX. */
  private escape: 0 | 1 | 2 = 0;
  private unicode = '';
  private key = '';
  /** In the top-level object, whether the next string is a key. */
  private expectKey = false;
  /** The top-level key whose value comes next. */
  private pendingKey: string | null = null;
  private target: 'before' | 'inside' | 'after' = 'before';
  /** Inside a non-string element made of bare characters (number, true, null). */
  private inLiteral = false;
  private count = 0;

  constructor(
    private readonly targetKey: string,
    private readonly handler: StringArrayHandler,
  ) {}

  /** Elements started so far (strings and others). */
  get elements(): number {
    return this.count;
  }

  /** The target array has been closed: no more elements will come. */
  get arrayDone(): boolean {
    return this.target === 'after' || this.finished;
  }

  write(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.inString) {
        i = this.scanString(chunk, i);
        continue;
      }
      const c = chunk[i++]!;
      if (isWhitespace(c)) {
        this.inLiteral = false;
        continue;
      }
      if (this.finished) throw new JsonScanError('data after the end of the JSON object');
      switch (c) {
        case QUOTE:
          this.openString();
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          this.openContainer(c);
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          this.closeContainer(c);
          break;
        case COLON:
          if (this.stack.length === 1) this.expectKey = false;
          break;
        case COMMA:
          this.inLiteral = false;
          if (this.stack.length === 1) {
            this.expectKey = true;
            this.pendingKey = null;
          }
          break;
        default:
          if (!this.started) throw new JsonScanError('the body is not a JSON object');
          if (this.inTargetArray() && !this.inLiteral) {
            this.inLiteral = true;
            this.handler.other(this.count++);
          }
      }
    }
  }

  /** The body has ended: it must have closed the top-level object. */
  end(): void {
    if (!this.finished) throw new JsonScanError(this.started ? 'the JSON body ended early (truncated)' : 'the body is empty');
  }

  private inTargetArray(): boolean {
    return this.target === 'inside' && this.stack.length === 2;
  }

  private openString(): void {
    if (!this.started) throw new JsonScanError('the body is not a JSON object');
    this.inString = true;
    this.inLiteral = false;
    if (this.stack.length === 1 && this.expectKey) {
      this.role = 'key';
      this.key = '';
    } else if (this.inTargetArray()) {
      this.role = 'element';
      this.handler.start(this.count);
    } else {
      this.role = 'skip';
    }
  }

  private closeString(): void {
    this.inString = false;
    if (this.role === 'key') this.pendingKey = this.key;
    else if (this.role === 'element') this.handler.end(this.count++);
    this.role = 'skip';
  }

  private openContainer(c: number): void {
    this.inLiteral = false;
    if (!this.started) {
      if (c !== OPEN_OBJECT) throw new JsonScanError('the body is not a JSON object');
      this.started = true;
      this.stack.push(c);
      this.expectKey = true;
      return;
    }
    if (this.inTargetArray()) this.handler.other(this.count++);
    else if (this.stack.length === 1 && c === OPEN_ARRAY && this.pendingKey === this.targetKey && this.target === 'before')
      this.target = 'inside';
    if (this.stack.length >= MAX_DEPTH) throw new JsonScanError(`JSON nested deeper than ${MAX_DEPTH} levels`);
    this.stack.push(c);
  }

  private closeContainer(c: number): void {
    this.inLiteral = false;
    const open = this.stack.pop();
    if (open === undefined || (open === OPEN_OBJECT) !== (c === CLOSE_OBJECT))
      throw new JsonScanError('mismatched brackets in the JSON body');
    if (this.target === 'inside' && this.stack.length === 1) this.target = 'after';
    if (this.stack.length === 0) this.finished = true;
  }

  /**
   * Scans string contents from `i` to the closing quote or the end of the chunk; returns where
   * scanning continues. Escapes are resolved into one buffer per chunk (not one slice per escape),
   * so a payload written with `\/` or `\n` every few dozen characters costs no more than a plain one.
   */
  private scanString(chunk: Buffer, i: number): number {
    const n = chunk.length;
    if (this.escape !== 0) i = this.finishEscape(chunk, i);
    if (this.escape !== 0 || i >= n) return i;
    // Native searches, not a byte loop: a 100 MB element is scanned at memory speed.
    let quote = chunk.indexOf(QUOTE, i);
    let backslash = backslashBefore(chunk, i, quote);
    if (backslash === -1) return this.finishPlain(chunk, i, quote);
    const out = Buffer.allocUnsafe(n - i); // unescaping never lengthens
    let length = 0;
    let pos = i;
    for (;;) {
      if (backslash === -1) {
        // No escape before the end of the string (or chunk): copy the rest and stop.
        const stop = quote === -1 ? n : quote;
        length += chunk.copy(out, length, pos, stop);
        this.emit(out.subarray(0, length));
        if (quote === -1) return n;
        this.closeString();
        return quote + 1;
      }
      length += chunk.copy(out, length, pos, backslash);
      const escapeEnd = backslash + (chunk[backslash + 1] === UNICODE_ESCAPE ? 6 : 2);
      if (escapeEnd > n) {
        // The escape continues in the next chunk.
        this.emit(out.subarray(0, length));
        this.escape = 1;
        return this.finishEscape(chunk, backslash + 1);
      }
      length += this.unescape(chunk, backslash + 1).copy(out, length);
      pos = escapeEnd;
      if (quote !== -1 && quote < pos) quote = chunk.indexOf(QUOTE, pos);
      backslash = backslashBefore(chunk, pos, quote);
    }
  }

  /** The string runs to `quote` (or past the chunk) without escapes. */
  private finishPlain(chunk: Buffer, i: number, quote: number): number {
    this.emit(chunk.subarray(i, quote === -1 ? chunk.length : quote));
    if (quote === -1) return chunk.length;
    this.closeString();
    return quote + 1;
  }

  /** Continues an escape cut by a chunk boundary; `i` is just past the backslash or inside \uXXXX. */
  private finishEscape(chunk: Buffer, i: number): number {
    if (this.escape === 1) {
      if (i >= chunk.length) return i;
      if (chunk[i] !== UNICODE_ESCAPE) {
        this.escape = 0;
        this.emit(this.unescape(chunk, i));
        return i + 1;
      }
      this.escape = 2;
      this.unicode = '';
      i++;
    }
    while (i < chunk.length && this.unicode.length < 4) this.unicode += String.fromCharCode(chunk[i++]!);
    if (this.unicode.length === 4) {
      this.escape = 0;
      this.emit(unicodeBytes(this.unicode));
    }
    return i;
  }

  /** The bytes an escape stands for; `at` is the character after the backslash, all of the escape in `chunk`. */
  private unescape(chunk: Buffer, at: number): Buffer {
    const c = chunk[at]!;
    if (c === UNICODE_ESCAPE) return unicodeBytes(chunk.toString('latin1', at + 1, at + 5));
    const text = SIMPLE_ESCAPES[c];
    if (text === undefined) throw new JsonScanError('invalid escape in a JSON string');
    return Buffer.from(text, 'latin1');
  }

  private emit(text: Buffer): void {
    if (text.length === 0) return;
    if (this.role === 'element') this.handler.data(this.count, text);
    else if (this.role === 'key' && this.key.length < MAX_KEY_CHARS) this.key += text.toString('utf8').slice(0, MAX_KEY_CHARS);
  }
}

function unicodeBytes(hex: string): Buffer {
  if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonScanError('invalid \\u escape in a JSON string');
  return Buffer.from(String.fromCharCode(parseInt(hex, 16)), 'utf8');
}

/** The first backslash in [from, quote) (or to the chunk's end when no quote was found), or -1. */
function backslashBefore(chunk: Buffer, from: number, quote: number): number {
  const found = chunk.subarray(from, quote === -1 ? chunk.length : quote).indexOf(BACKSLASH);
  return found === -1 ? -1 : from + found;
}
