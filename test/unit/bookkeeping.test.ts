import { describe, expect, it } from 'vitest';
import { Bookkeeping } from '../../activities/bookkeeping';
import type { StoredFileRecord } from '../../src/provenance/store';

/** A manifest write or INSERT the test settles by hand, to pin down what waits for what. */
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
  const manifests = new Map<string, unknown>();
  const store = {
    putJson: async (key: string, value: unknown) => {
      manifests.set(key, value);
      await hold(`manifest ${key}`);
      return { etag: 'e', versionId: null };
    },
  };
  const provenance = {
    recordStored: async (recs: readonly StoredFileRecord[]) => {
      await hold(`insert ${recs.map((r) => r.objectKey).join(',')}`);
      return recs.length;
    },
  };
  return { events, pending, settle, store, provenance, manifests };
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

const manifests = { keyFor: (seq: number) => `m${seq}`, header: { export: 'w' } };

describe('Bookkeeping', () => {
  it('writes a manifest, then the rows, for each group of at most `files` files', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, manifests, { files: 2, bytes: 1_000 });
    await books.add({ key: 'a' }, record('a'));
    expect(r.pending).toEqual([]);
    await books.add({ key: 'b' }, record('b'));
    await flush();
    expect(r.pending.map((p) => p.what)).toEqual(['manifest m1']);
    // The rows wait for their manifest.
    await r.settle('manifest m1');
    expect(r.pending.map((p) => p.what)).toEqual(['insert a,b']);
    await books.add({ key: 'c' }, record('c'));
    const drained = books.drain();
    await r.settle('insert a,b');
    await r.settle('manifest m2');
    await r.settle('insert c');
    await drained;
    expect(r.events.filter((e) => e.startsWith('start'))).toEqual([
      'start manifest m1',
      'start insert a,b',
      'start manifest m2',
      'start insert c',
    ]);
    expect(r.manifests.get('m1')).toMatchObject({ export: 'w', files: [{ key: 'a' }, { key: 'b' }] });
  });

  it('writes at once when the group stands for `bytes` of transfers (a crash refetches no more)', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, manifests, { files: 100, bytes: 50 });
    await books.add({ key: 'big' }, record('big', 50));
    await flush();
    expect(r.pending.map((p) => p.what)).toEqual(['manifest m1']);
    await r.settle('manifest m1');
    await r.settle('insert big');
    await books.drain();
  });

  it('holds the next group back while the previous one is still being written', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, manifests, { files: 1, bytes: 1_000 });
    await books.add({ key: 'a' }, record('a'));
    let bReturned = false;
    const b = books.add({ key: 'b' }, record('b')).then(() => (bReturned = true));
    await flush();
    expect(bReturned).toBe(false);
    await r.settle('manifest m1');
    await r.settle('insert a');
    await b;
    expect(bReturned).toBe(true);
  });

  it('reports a failed manifest and writes no row for its files', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, manifests, { files: 100, bytes: 1_000 });
    await books.add({ key: 'a' }, record('a'));
    const drained = books.drain().then(
      () => 'drained',
      (err: Error) => err.message,
    );
    await flush();
    await r.settle('manifest m1', new Error('store down'));
    expect(await drained).toBe('store down');
    expect(r.events.some((e) => e.startsWith('start insert'))).toBe(false);
  });

  it('stops taking files once an INSERT failed, and says why', async () => {
    const r = recorder();
    const books = new Bookkeeping(r.store, r.provenance, manifests, { files: 1, bytes: 1_000 });
    await books.add({ key: 'a' }, record('a'));
    await flush();
    await r.settle('manifest m1');
    await r.settle('insert a', new Error('postgres down'));
    await expect(books.add({ key: 'b' }, record('b'))).rejects.toThrow('postgres down');
    await expect(books.drain()).rejects.toThrow('postgres down');
  });
});
