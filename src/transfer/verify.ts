import { createHash } from 'node:crypto';
import type { ObjectStore } from '../storage/objectStore';

/** SHA-256 of a stored object, streamed back from the store (memory stays flat). */
export async function sha256OfObject(store: ObjectStore, key: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const body = await store.readStream(key, signal);
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
