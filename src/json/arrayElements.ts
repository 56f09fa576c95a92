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

export async function* jsonArrayElements(source: AsyncIterable<unknown>, options: JsonArrayOptions = {}): AsyncGenerator<RawElement, void, undefined> {
  const maxElementBytes = options.maxElementBytes ?? DEFAULT_MAX_ELEMENT_BYTES;
  let state = BEFORE_ARRAY;
  let index = 0;
  let consumed = 0; // bytes of earlier chunks, for error positions
  let pieces: Buffer[] = [];
  let pieceBytes = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let bomBytes = 0; // of a UTF-8 byte order mark some servers prepend

  for await (const raw of source) {
    const chunk = toBuffer(raw);
    // Where the current element starts in this chunk (it may have started in an earlier one).
    let start = state === IN_VALUE ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (state === IN_VALUE) {
        let end = -1; // the element ends before this offset
        let reprocess = false; // the byte at `end` belongs to the array, not the element
        if (inString) {
          if (escaped) escaped = false;
          else if (c === BACKSLASH) escaped = true;
          else if (c === QUOTE) {
            inString = false;
            if (depth === 0) end = i + 1;
          }
        } else if (c === QUOTE) {
          inString = true;
        } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
          depth++;
        } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
          if (depth === 0) {
            end = i; // a bare scalar ended by the array's ']'
            reprocess = true;
          } else if (--depth === 0) {
            end = i + 1;
          }
        } else if (depth === 0 && (c === COMMA || isWhitespace(c))) {
          end = i; // a bare scalar (number, true, null) ended
          reprocess = true;
        }
        if (end < 0) continue;
        const size = pieceBytes + (end - start);
        if (size > maxElementBytes) throw new JsonArrayError(`element ${index} is larger than ${maxElementBytes} bytes`);
        const last = chunk.subarray(start, end);
        const bytes = pieces.length === 0 ? last : Buffer.concat([...pieces, last], size);
        pieces = [];
        pieceBytes = 0;
        start = -1;
        state = AFTER_VALUE;
        if (reprocess) i--;
        yield { index: index++, bytes };
        continue;
      }
      if (isWhitespace(c)) continue;
      switch (state) {
        case BEFORE_ARRAY:
          if (c === OPEN_ARRAY) state = FIRST_VALUE;
          else if (consumed + i === bomBytes && bomBytes < 3 && c === UTF8_BOM[bomBytes]) bomBytes++;
          else throw new JsonArrayError(`expected a JSON array, found ${describe(c)} at byte ${consumed + i}`);
          break;
        case FIRST_VALUE:
        case NEXT_VALUE:
          if (c === CLOSE_ARRAY && state === FIRST_VALUE) {
            state = DONE;
            break;
          }
          if (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || c === COLON) {
            throw new JsonArrayError(`expected element ${index}, found ${describe(c)} at byte ${consumed + i}`);
          }
          state = IN_VALUE;
          start = i;
          depth = 0;
          inString = false;
          escaped = false;
          i--; // let IN_VALUE see the element's first byte
          break;
        case AFTER_VALUE:
          if (c === COMMA) state = NEXT_VALUE;
          else if (c === CLOSE_ARRAY) state = DONE;
          else throw new JsonArrayError(`expected ',' or ']' after element ${index - 1}, found ${describe(c)} at byte ${consumed + i}`);
          break;
        case DONE:
          throw new JsonArrayError(`unexpected ${describe(c)} after the end of the array at byte ${consumed + i}`);
      }
    }
    if (state === IN_VALUE) {
      const rest = chunk.subarray(start);
      pieceBytes += rest.length;
      if (pieceBytes > maxElementBytes) throw new JsonArrayError(`element ${index} is larger than ${maxElementBytes} bytes`);
      pieces.push(rest);
    }
    consumed += chunk.length;
  }
  if (state === BEFORE_ARRAY) throw new JsonArrayError('expected a JSON array, found an empty body');
  if (state !== DONE) throw new JsonArrayError(`the array ended early: body truncated after ${index} complete elements (${consumed} bytes)`);
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
