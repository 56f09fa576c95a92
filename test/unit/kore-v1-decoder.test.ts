import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TransientError, UnavailableError } from '../../src/errors';
import { openV1Recording } from '../../src/providers/kore/v1Recordings';

async function bytesOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('Kore v1 element decoder (data URIs inside JSON strings)', () => {
  it('decodes across any chunking, with escapes split between chunks', async () => {
    const payloads = [
      Buffer.from('hello, world? \u00ff\u0000'),
      createHash('sha512').update('x').digest(),
      Buffer.alloc(0),
      Buffer.from([0xfb, 0xff, 0xbf]),
    ];
    const encode = (b: Buffer) =>
      b
        .toString('base64')
        .replace(/(.{7})/g, '$1\\r\\n')
        .replace(/\//g, '\\/')
        .replace(/\+/g, '\\u002B');
    const json = `{"x":"a\\"b]","recording":[${payloads.map((p) => `"data:application\\/octet-stream;base64,${encode(p)}"`).join(', ')}], "y": [1]}`;
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < json.length; i += size) chunks.push(Buffer.from(json.slice(i, i + size), 'latin1'));
      for (const [index, payload] of payloads.entries()) {
        const { mime, stream } = await openV1Recording(Readable.from(chunks), index, 'test');
        expect(mime).toBe('application/octet-stream');
        expect((await bytesOf(stream)).equals(payload)).toBe(true);
      }
    }
  });

  it('refuses data after the padding and a body that is not JSON', async () => {
    const bad = Readable.from([Buffer.from('{"recording":["data:audio/wav;base64,QQ==QUFB"]}')]);
    const err = await openV1Recording(bad, 0, 'test')
      .then(({ stream }) => bytesOf(stream))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    const html = await openV1Recording(Readable.from([Buffer.from('<html>gateway</html>')]), 0, 'test').catch((e: unknown) => e);
    expect(html).toBeInstanceOf(TransientError);
  });
});
