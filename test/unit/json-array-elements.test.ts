import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonArrayError, jsonArrayElements } from '../../src/json/arrayElements';

describe("streaming JSON array reader (Dixa's exports)", () => {
  const elements = async (chunks: string[]) => {
    const out: unknown[] = [];
    for await (const e of jsonArrayElements(Readable.from(chunks.map((c) => Buffer.from(c)))))
      out.push(JSON.parse(e.bytes.toString('utf8')));
    return out;
  };

  it('finds elements across any chunk boundary, through strings, escapes and nesting', async () => {
    const values = [{ a: '[{"x"}]\\', b: [1, { c: 'é ✓ 😀' }] }, 12.5e3, 'str"ing]', null, true, [], {}];
    const text = `\ufeff [ ${values.map((v) => JSON.stringify(v)).join(' ,\n')} ] \n`;
    expect(await elements([text])).toEqual(values);
    // One byte per chunk: splits the BOM, multi-byte characters, escapes and every token.
    const out: unknown[] = [];
    for await (const e of jsonArrayElements(Readable.from(Array.from(Buffer.from(text), (b) => Buffer.from([b])))))
      out.push(JSON.parse(e.bytes.toString('utf8')));
    expect(out).toEqual(values);
    expect(await elements(['[]'])).toEqual([]);
  });

  it('refuses what is not exactly one array', async () => {
    await expect(elements(['{"results": []}'])).rejects.toThrow(JsonArrayError);
    await expect(elements(['[1, 2'])).rejects.toThrow(/truncated after 1 complete elements/);
    await expect(elements(['[{"id": "a"}, {"id": "tr'])).rejects.toThrow(/truncated/);
    await expect(elements(['[1] x'])).rejects.toThrow(/after the end of the array/);
    await expect(elements(['[1,,2]'])).rejects.toThrow(/expected element 1/);
    await expect(elements([''])).rejects.toThrow(/empty body/);
    const big = jsonArrayElements(Readable.from([Buffer.from(`["${'x'.repeat(2000)}"]`)]), { maxElementBytes: 1000 });
    await expect(
      (async () => {
        for await (const _ of big) void _;
      })(),
    ).rejects.toThrow(/larger than 1000 bytes/);
  });
});
