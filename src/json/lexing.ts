/**
 * The bytes JSON's structure is made of, shared by the streaming scanners of this folder. They are
 * all ASCII and so never occur inside a multi-byte UTF-8 sequence: scanning bytes is safe, and a
 * string split across chunks is decoded only once whole.
 */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
/** The `u` of a `\uXXXX` escape. */
export const UNICODE_ESCAPE = 0x75;
/** A UTF-8 byte order mark, which some servers put before a body. */
export const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/** JSON's four whitespace bytes: space, line feed, carriage return, tab. */
export function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
