import { Readable } from 'node:stream';
import { buffer as readAll } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import {
  chunkBody,
  choosePartSize,
  contiguousParts,
  partLengths,
  sizeClass,
  streamParts,
  type StreamedBody,
} from '../../src/transfer/parts';
import { MiB } from '../../src/contracts/units';

async function collect(body: Readable, partSize: number, skip = 0, hint: number | null = null) {
  const stats = { discarded: 0, received: 0 };
  const seen: Buffer[] = [];
  const parts: Buffer[] = [];
  let received = 0;
  const options = {
    partSize,
    skip,
    sizeHint: hint,
    onData: (c: Buffer) => seen.push(Buffer.from(c)),
    onReceived: (n: number) => (received += n),
  };
  for await (const part of chunkBody(body, options, stats)) parts.push(Buffer.from(part));
  expect(received).toBe(stats.received);
  return { parts, stats, seen: Buffer.concat(seen) };
}

function bytes(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => i % 251));
}

describe('chunkBody', () => {
  it('cuts a body into equal parts and a shorter last one, whatever the chunking', async () => {
    const data = bytes(25);
    const body = Readable.from([data.subarray(0, 3), data.subarray(3, 17), data.subarray(17)]);
    const { parts, stats } = await collect(body, 10);
    expect(parts.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(Buffer.concat(parts)).toEqual(data);
    expect(stats).toEqual({ discarded: 0, received: 25 });
  });

  it('drops the bytes a source sent before the requested offset', async () => {
    const data = bytes(30);
    const { parts, stats, seen } = await collect(Readable.from([data.subarray(0, 7), data.subarray(7)]), 10, 12);
    expect(Buffer.concat(parts)).toEqual(data.subarray(12));
    expect(seen).toEqual(data.subarray(12));
    expect(stats).toEqual({ discarded: 12, received: 30 });
  });

  it('yields one empty part for an empty body (an empty file is still a file)', async () => {
    const { parts } = await collect(Readable.from([]), 10);
    expect(parts.map((p) => p.length)).toEqual([0]);
  });

  it('grows a too-small size hint to a whole part', async () => {
    const data = bytes(23);
    const { parts } = await collect(Readable.from([data]), 10, 0, 4);
    expect(parts.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(Buffer.concat(parts)).toEqual(data);
  });
});

describe('streamParts', () => {
  const stats = (): StreamedBody => ({ discarded: 0, received: 0, failure: null });

  it('cuts a body into part streams of the given lengths, whatever the chunking, hashing what it keeps', async () => {
    const data = bytes(25);
    const s = stats();
    const seen: Buffer[] = [];
    const got: Buffer[] = [];
    const body = Readable.from([data.subarray(0, 3), data.subarray(3, 17), data.subarray(17)]);
    for await (const part of streamParts(body, partLengths(25, 10), { skip: 0, onData: (c) => seen.push(Buffer.from(c)) }, s)) {
      const read = await readAll(part.body);
      expect(read.length).toBe(part.length);
      got.push(read);
    }
    expect(got.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(Buffer.concat(got)).toEqual(data);
    expect(Buffer.concat(seen)).toEqual(data);
    expect(s).toEqual({ discarded: 0, received: 25, failure: null });
  });

  it('drops the bytes a source sent before the requested offset', async () => {
    const data = bytes(30);
    const s = stats();
    const got: Buffer[] = [];
    for await (const part of streamParts(
      Readable.from([data.subarray(0, 7), data.subarray(7)]),
      partLengths(18, 10),
      { skip: 12, onData: () => undefined },
      s,
    ))
      got.push(await readAll(part.body));
    expect(Buffer.concat(got)).toEqual(data.subarray(12));
    expect(s.discarded).toBe(12);
  });

  it('reads the source only as fast as a part is consumed', async () => {
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 100; i++) {
          pulled++;
          yield bytes(1000);
        }
      })(),
      { objectMode: false, highWaterMark: 1 },
    );
    const parts = streamParts(source, partLengths(100_000, 50_000), { skip: 0, onData: () => undefined }, stats());
    const first = await parts.next();
    expect(first.done).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    // Nothing consumed yet: at most the read-ahead of two small stream buffers, not the part.
    expect(pulled).toBeLessThan(10);
    await parts.return(undefined);
  });

  it('fails the part in flight with a clear error when the source ends early', async () => {
    const s = stats();
    const heard: Error[] = [];
    const parts = streamParts(
      Readable.from([bytes(15)]),
      partLengths(25, 10),
      { skip: 0, onData: () => undefined, onFailure: (e) => heard.push(e) },
      s,
    );
    await readAll((await parts.next()).value!.body);
    const second = (await parts.next()).value!;
    await expect(readAll(second.body)).rejects.toThrow(/short body: the source ended after 15 bytes/);
    expect(s.failure?.message).toMatch(/short body/);
    // The store's request, which reads the part through a pipe, is told so it can be aborted.
    expect(heard).toEqual([s.failure]);
  });

  it('fails after the last part when the source sends more than it announced', async () => {
    const parts = streamParts(Readable.from([bytes(12)]), partLengths(10, 10), { skip: 0, onData: () => undefined }, stats());
    await readAll((await parts.next()).value!.body);
    await expect(parts.next()).rejects.toThrow(/more than the 10 bytes/);
  });
});

describe('part buffers', () => {
  it('come in size classes close to the file, never above a part', () => {
    expect(sizeClass(1, 8 * MiB)).toBe(64 * 1024);
    expect(sizeClass(64 * 1024, 8 * MiB)).toBe(64 * 1024);
    expect(sizeClass(64 * 1024 + 1, 8 * MiB)).toBe(128 * 1024);
    expect(sizeClass(5 * MiB - 3, 8 * MiB)).toBe(5 * MiB);
    expect(sizeClass(5 * MiB + 1, 8 * MiB)).toBe(6 * MiB);
    expect(sizeClass(20 * MiB, 8 * MiB)).toBe(8 * MiB);
  });

  it('are reused by the next file of the same class instead of piling up as garbage', async () => {
    const first = bytes(100 * 1024);
    const second = Buffer.from(first).reverse();
    const pass = async (data: Buffer) => {
      const out: Buffer[] = [];
      for await (const part of chunkBody(
        Readable.from([data]),
        { partSize: 8 * MiB, skip: 0, sizeHint: data.length, onData: () => undefined },
        { discarded: 0, received: 0 },
      )) {
        out.push(part);
      }
      return out[0]!;
    };
    const a = await pass(first);
    const backing = a.buffer;
    expect(Buffer.from(a)).toEqual(first);
    const b = await pass(second);
    expect(b.buffer).toBe(backing);
    expect(Buffer.from(b)).toEqual(second);
  });
});

describe('part planning', () => {
  it('keeps the configured part size unless the file would need too many parts', () => {
    expect(choosePartSize(8 * MiB, null)).toBe(8 * MiB);
    expect(choosePartSize(8 * MiB, 1024 * MiB)).toBe(8 * MiB);
    const huge = 200 * 1024 * MiB;
    const size = choosePartSize(8 * MiB, huge);
    expect(Math.ceil(huge / size)).toBeLessThanOrEqual(10_000);
    expect(size % MiB).toBe(0);
  });

  it('resumes only from the run of parts without gaps', () => {
    const p = (n: number) => ({ partNumber: n, etag: `e${n}`, size: 5 });
    expect(contiguousParts([p(2), p(1), p(4)]).map((x) => x.partNumber)).toEqual([1, 2]);
    expect(contiguousParts([p(2)])).toEqual([]);
  });
});
