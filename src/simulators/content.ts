import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

/** The 128-bit key of one file's content: same seed and id, same bytes. */
export function contentKey(seed: string, id: string): Buffer {
  return createHash('sha256').update(`${seed}\0${id}`).digest().subarray(0, 16);
}

/**
 * Deterministic pseudo-random bytes [start, end) of a file, generated as a stream: AES-128-CTR
 * keystream, so any offset is reachable without generating what comes before it, several GiB
 * cost no memory, and generation runs at memory speed.
 */
export function contentStream(key: Buffer, start: number, end: number): Readable {
  const block = Math.floor(start / 16);
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  let skip = start - block * 16;
  let position = start;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (position >= end) {
        this.push(null);
        return;
      }
      const want = Math.min(CHUNK, end - position + skip);
      let out = cipher.update(ZEROS.subarray(0, want));
      if (skip > 0) {
        out = out.subarray(skip);
        skip = 0;
      }
      position += out.length;
      this.push(out);
    },
  });
}

/** SHA-256 of a whole generated file, computed by streaming it. */
export async function contentSha256(key: Buffer, size: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of contentStream(key, 0, size)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A stable UUID-shaped id derived from a seed and a label. */
export function deterministicUuid(seed: string, label: string): string {
  const h = createHash('sha256').update(`${seed}\0uuid\0${label}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
