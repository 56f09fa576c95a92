import { MiB } from '../contracts/units';
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE, UTF8_BOM, isWhitespace } from './lexing';
/**
 * Reads the elements of one top-level JSON array from a byte stream, one element at a time.
 *
 * Dixa's exports API answers with the whole window as a single array and no paging, so a busy
 * tenant's day can be hundreds of megabytes. This scanner only finds where each element starts
 * and ends (tracking strings, escapes and nesting depth byte by byte) and hands the element's
 * bytes to the caller, which parses it with JSON.parse. Memory is one chunk plus one element,
 * whatever the size of the array. Structural characters are ASCII and never occur inside a
 * multi-byte UTF-8 sequence, so scanning bytes is safe and an element split across chunks is
 * decoded only once it is whole.
 *
 * Why not a dependency (stream-json and the like): those emit one object per token and are
 * several times slower than V8's JSON.parse on whole elements; finding element boundaries is
 * all we need, and it is a small state machine.
 */

/** The stream is not one well-formed JSON array (the element's own syntax is JSON.parse's job). */
export class JsonArrayError extends Error {
  override readonly name = 'JsonArrayError';
}

export interface RawElement {
  /** Position in the array, from 0. */
  index: number;
  /** The element's UTF-8 bytes, exactly as sent. */
  bytes: Buffer;
}

export interface JsonArrayOptions {
  /** Refuse an element larger than this, so one runaway record cannot exhaust memory. */
  maxElementBytes?: number;
}

const DEFAULT_MAX_ELEMENT_BYTES = 8 * MiB;

// Scanner states.
const BEFORE_ARRAY = 0; // expecting '['
const FIRST_VALUE = 1; // after '[': a value or ']'
const IN_VALUE = 2; // inside an element
const AFTER_VALUE = 3; // after an element: ',' or ']'
const NEXT_VALUE = 4; // after ',': a value
const DONE = 5; // after ']': only whitespace

export async function* jsonArrayElements(
  source: AsyncIterable<unknown>,
  options: JsonArrayOptions = {},
): AsyncGenerator<RawElement, void, undefined> {
  const scanner = new ArrayScanner(options.maxElementBytes ?? DEFAULT_MAX_ELEMENT_BYTES);
  for await (const raw of source) {
    const chunk = toBuffer(raw);
    for (let element = scanner.next(chunk); element; element = scanner.next(chunk)) yield element;
  }
  scanner.end();
}

/**
 * The state machine behind jsonArrayElements, fed one chunk at a time: `next(chunk)` scans on from
 * where it stopped and returns the next whole element, or undefined once the chunk is used up (the
 * part of an element it ends in is kept for the next chunk).
 */
class ArrayScanner {
  private state = BEFORE_ARRAY;
  private index = 0;
  /** Bytes of earlier chunks, for error positions. */
  private consumed = 0;
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Bytes seen of a UTF-8 byte order mark some servers prepend. */
  private bomBytes = 0;
  /** The chunk being scanned, where scanning continues in it, and where the current element starts in it (-1: before it). */
  private chunk: Buffer | null = null;
  private at = 0;
  private start = -1;

  constructor(private readonly maxElementBytes: number) {}

  next(chunk: Buffer): RawElement | undefined {
    if (chunk !== this.chunk) this.begin(chunk);
    while (this.at < chunk.length) {
      const i = this.at++;
      const c = chunk[i]!;
      if (this.state === IN_VALUE) {
        const element = this.inValue(chunk, c, i);
        if (element) return element;
      } else if (!isWhitespace(c)) this.between(c, i);
    }
    this.finishChunk(chunk);
    return undefined;
  }

  end(): void {
    if (this.state === BEFORE_ARRAY) throw new JsonArrayError('expected a JSON array, found an empty body');
    if (this.state !== DONE)
      throw new JsonArrayError(`the array ended early: body truncated after ${this.index} complete elements (${this.consumed} bytes)`);
  }

  private begin(chunk: Buffer): void {
    this.chunk = chunk;
    this.at = 0;
    // The current element may have started in an earlier chunk.
    this.start = this.state === IN_VALUE ? 0 : -1;
  }

  /** A byte of an element; the element when this byte ends it. */
  private inValue(chunk: Buffer, c: number, i: number): RawElement | undefined {
    let end = -1; // the element ends before this offset
    let reprocess = false; // the byte at `end` belongs to the array, not the element
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === BACKSLASH) this.escaped = true;
      else if (c === QUOTE) {
        this.inString = false;
        if (this.depth === 0) end = i + 1;
      }
    } else if (c === QUOTE) {
      this.inString = true;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      this.depth++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (this.depth === 0) {
        end = i; // a bare scalar ended by the array's ']'
        reprocess = true;
      } else if (--this.depth === 0) {
        end = i + 1;
      }
    } else if (this.depth === 0 && (c === COMMA || isWhitespace(c))) {
      end = i; // a bare scalar (number, true, null) ended
      reprocess = true;
    }
    if (end < 0) return undefined;
    if (reprocess) this.at = i;
    return this.element(chunk.subarray(this.start, end));
  }

  /** The element whose last bytes are `last` (its first ones are in `pieces`). */
  private element(last: Buffer): RawElement {
    const size = this.pieceBytes + last.length;
    if (size > this.maxElementBytes) throw new JsonArrayError(`element ${this.index} is larger than ${this.maxElementBytes} bytes`);
    const bytes = this.pieces.length === 0 ? last : Buffer.concat([...this.pieces, last], size);
    this.pieces = [];
    this.pieceBytes = 0;
    this.start = -1;
    this.state = AFTER_VALUE;
    return { index: this.index++, bytes };
  }

  /** A byte outside every element (whitespace aside): the array's own syntax. */
  private between(c: number, i: number): void {
    const at = this.consumed + i;
    switch (this.state) {
      case BEFORE_ARRAY:
        if (c === OPEN_ARRAY) this.state = FIRST_VALUE;
        else if (at === this.bomBytes && this.bomBytes < 3 && c === UTF8_BOM[this.bomBytes]) this.bomBytes++;
        else throw new JsonArrayError(`expected a JSON array, found ${describe(c)} at byte ${at}`);
        return;
      case FIRST_VALUE:
      case NEXT_VALUE:
        if (c === CLOSE_ARRAY && this.state === FIRST_VALUE) {
          this.state = DONE;
          return;
        }
        if (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || c === COLON) {
          throw new JsonArrayError(`expected element ${this.index}, found ${describe(c)} at byte ${at}`);
        }
        this.state = IN_VALUE;
        this.start = i;
        this.depth = 0;
        this.inString = false;
        this.escaped = false;
        this.at = i; // let IN_VALUE see the element's first byte
        return;
      case AFTER_VALUE:
        if (c === COMMA) this.state = NEXT_VALUE;
        else if (c === CLOSE_ARRAY) this.state = DONE;
        else throw new JsonArrayError(`expected ',' or ']' after element ${this.index - 1}, found ${describe(c)} at byte ${at}`);
        return;
      case DONE:
        throw new JsonArrayError(`unexpected ${describe(c)} after the end of the array at byte ${at}`);
    }
  }

  /** The chunk is scanned: keep the part of an element it ends in. */
  private finishChunk(chunk: Buffer): void {
    if (this.state === IN_VALUE) {
      const rest = chunk.subarray(this.start);
      this.pieceBytes += rest.length;
      if (this.pieceBytes > this.maxElementBytes)
        throw new JsonArrayError(`element ${this.index} is larger than ${this.maxElementBytes} bytes`);
      this.pieces.push(rest);
    }
    this.consumed += chunk.length;
    this.chunk = null;
  }
}

function toBuffer(raw: unknown): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
  throw new JsonArrayError(`unexpected chunk type ${typeof raw}`);
}

function describe(c: number): string {
  return c >= 0x21 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}
