import { describe, expect, it } from 'vitest';
import { Bookkeeping } from '../../activities/bookkeeping';
import type { StoredFileRecord } from '../../src/provenance/store';

/** A sidecar write or INSERT the test settles by hand, to pin down what waits for what. */
interface Pending {
  what: string;
  resolve(): void;
  reject(err: Error): void;
}

function recorder() {
  const events: string[] = [];
  const pending: Pending[] = [];
  const hold = (what: string) =>
    new Promise<void>((resolve, reject) => {
      events.push(`start ${what}`);
      pending.push({
        what,
        resolve: () => {
          events.push(`done ${what}`);
          resolve();
        },
        reject,
      });
    });
  const settle = async (what: string, err?: Error) => {
    const i = pending.findIndex((p) => p.what === what);
    if (i < 0) throw new Error(`nothing pending named ${what}; pending: ${pending.map((p) => p.what).join(', ')}`);
    const [p] = pending.splice(i, 1);
    if (err) p!.reject(err);
    else p!.resolve();
    await flush();
  };
  const store = { putJson: async (key: string) => (await hold(`sidecar ${key}`), { etag: 'e', versionId: null }) };
  const provenance = {
    recordStored: async (recs: readonly StoredFileRecord[]) => {
      await hold(`insert ${recs.map((r) => r.objectKey).join(',')}`);
      return recs.length;
    },
  };
  return { events, pending, settle, store, provenance };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

function record(key: string, size = 10): StoredFileRecord {
  const at = new Date(0);
  return {
    provider: 'bird',
    connection: 'c',
    item: { sourceId: key, conversationId: 'conv', kind: 'recording', createdAt: at.toISOString(), locator: {} },
    sourceUrl: 'https://media.example/x',
    bucket: 'b',
    objectKey: key,
    versionId: null,
    etag: 'e',
    size,
    sha256: 'a'.repeat(64),
    contentType: 'audio/mpeg',
    execution: { workflowId: 'w', runId: 'r', attempt: 1 },
    startedAt: at,
    finishedAt: at,
  };
}

describe('Bookkeeping', () => {
  it('writes rows together, after their sidecars, at most `rows` per INSERT', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, { rows: 2, bytes: 1_000 });
    const a = books.add('a.json', {}, record('a'));
    await r.settle('sidecar a.json'); // nobody waits for a's sidecar but b: settle it early
    await a;
    const b = books.add('b.json', {}, record('b'));
    await flush();
    // b's add returns once a's sidecar is in (it is); the INSERT waits for b's sidecar.
    await b;
    expect(r.pending.map((p) => p.what)).toEqual(['sidecar b.json']);
    await r.settle('sidecar b.json');
    expect(r.pending.map((p) => p.what)).toEqual(['insert a,b']);
    const c = books.add('c.json', {}, record('c'));
    await r.settle('sidecar c.json');
    await c;
    const drained = books.drain();
    await r.settle('insert a,b');
    await r.settle('insert c');
    await drained;
    expect(r.events.filter((e) => e.startsWith('start insert'))).toEqual(['start insert a,b', 'start insert c']);
    expect(r.events.indexOf('done sidecar b.json')).toBeLessThan(r.events.indexOf('start insert a,b'));
  });

  it('writes at once when the unrecorded files stand for `bytes` of transfers (a crash refetches no more)', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, { rows: 100, bytes: 50 });
    const big = books.add('big.json', {}, record('big', 50));
    await flush();
    await r.settle('sidecar big.json');
    await big;
    expect(r.pending.map((p) => p.what)).toEqual(['insert big']);
    await r.settle('insert big');
    await books.drain();
  });

  it('waits for the previous file sidecar before the next file may start (one file behind at most)', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, { rows: 100, bytes: 1_000 });
    await books.add('a.json', {}, record('a'));
    let bReturned = false;
    const b = books.add('b.json', {}, record('b')).then(() => (bReturned = true));
    await flush();
    expect(bReturned).toBe(false);
    await r.settle('sidecar a.json');
    await b;
    expect(bReturned).toBe(true);
  });

  it('reports a failed sidecar and writes no row for it', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, { rows: 100, bytes: 1_000 });
    await books.add('a.json', {}, record('a'));
    const drained = books.drain().then(
      () => 'drained',
      (err: Error) => err.message,
    );
    await r.settle('sidecar a.json', new Error('store down'));
    expect(await drained).toBe('store down');
    expect(r.events.some((e) => e.startsWith('start insert'))).toBe(false);
  });

  it('stops taking files once an INSERT failed, and says why', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, { rows: 1, bytes: 1_000 });
    const a = books.add('a.json', {}, record('a'));
    await r.settle('sidecar a.json');
    await a;
    await r.settle('insert a', new Error('postgres down'));
    await expect(books.add('b.json', {}, record('b'))).rejects.toThrow('postgres down');
    await expect(books.drain()).rejects.toThrow('postgres down');
  });
});
