import { createHash, randomFillSync } from 'node:crypto';
import { createSHA256 } from 'hash-wasm';
import { MiB } from '../src/contracts/units';

/**
 * SHA-256 throughput: node:crypto (OpenSSL, state cannot be saved) against hash-wasm (state can be
 * saved and restored, so a resumed transfer could carry it in its heartbeat). Both are fed the way
 * the transfer engine feeds them: 64 KiB chunks off a socket; hash-wasm also saves its state once
 * per 8 MiB part, as a heartbeat would carry it.
 */
export interface HashResult {
  mib: number;
  rounds: number;
  cryptoMiBps: number;
  wasmMiBps: number;
  /** hash-wasm with save() after every part: what carrying the state would really cost. */
  wasmWithSaveMiBps: number;
  /** crypto / wasm: how many times faster the non-resumable hash is. */
  ratio: number;
  stateBytes: number;
}

const CHUNK = 64 * 1024;
const PART = 8 * MiB;
const POOL = 16 * MiB;

export async function runHashBench(mib: number, rounds = 3, onProgress?: (line: string) => void): Promise<HashResult> {
  const pool = randomFillSync(Buffer.allocUnsafe(POOL));
  const total = mib * MiB;
  const chunks = function* () {
    for (let offset = 0; offset < total; offset += CHUNK) {
      const at = offset % POOL;
      yield pool.subarray(at, at + Math.min(CHUNK, total - offset));
    }
  };
  const wasm = await createSHA256();
  const digests = new Set<string>();
  const time = (fn: () => string): number => {
    const t0 = process.hrtime.bigint();
    digests.add(fn());
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const best = { crypto: Infinity, wasm: Infinity, wasmSave: Infinity };
  let stateBytes = 0;
  for (let r = 0; r < rounds; r++) {
    onProgress?.(`hash: round ${r + 1}/${rounds}`);
    best.crypto = Math.min(
      best.crypto,
      time(() => {
        const h = createHash('sha256');
        for (const c of chunks()) h.update(c);
        return h.digest('hex');
      }),
    );
    best.wasm = Math.min(
      best.wasm,
      time(() => {
        wasm.init();
        for (const c of chunks()) wasm.update(c);
        return wasm.digest('hex');
      }),
    );
    best.wasmSave = Math.min(
      best.wasmSave,
      time(() => {
        wasm.init();
        let sincePart = 0;
        for (const c of chunks()) {
          wasm.update(c);
          sincePart += c.length;
          if (sincePart >= PART) {
            stateBytes = wasm.save().length;
            sincePart = 0;
          }
        }
        return wasm.digest('hex');
      }),
    );
  }
  if (digests.size !== 1) throw new Error(`hash: the implementations disagree (${[...digests].join(', ')})`);
  const rate = (s: number) => Math.round(mib / s);
  return {
    mib,
    rounds,
    cryptoMiBps: rate(best.crypto),
    wasmMiBps: rate(best.wasm),
    wasmWithSaveMiBps: rate(best.wasmSave),
    ratio: Math.round((best.wasm / best.crypto) * 100) / 100,
    stateBytes,
  };
}
