/**
 * Preloaded (`--require`) into a worker in the bench's diagnostic pass only, never in a timed
 * run: counts the worker's outgoing requests by kind (S3 calls by operation, provider requests by
 * server, Postgres queries by statement), keeps the peaks of process.memoryUsage(), and writes
 * them to $BENCH_PROBE_OUT every second and at exit. Temporal's own calls go through the Rust core and are counted from history instead.
 */
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type { ClientRequest } from 'node:http';

const out = process.env.BENCH_PROBE_OUT;
const counts: Record<string, number> = {};
const bump = (key: string) => (counts[key] = (counts[key] ?? 0) + 1);

function s3Operation(method: string, path: string, req: ClientRequest): string {
  const q = path.includes('?') ? path.slice(path.indexOf('?') + 1) : '';
  const has = (name: string) => new RegExp(`(^|&)${name}(=|&|$)`).test(q);
  const key = decodeURIComponent(path.split('?')[0] ?? '');
  switch (method) {
    case 'PUT':
      if (has('partNumber')) return 'UploadPart';
      if (req.getHeader('x-amz-copy-source')) return 'CopyObject';
      return key.includes('/_manifests/') ? 'PutObject (manifest)' : 'PutObject';
    case 'POST':
      if (has('uploads')) return 'CreateMultipartUpload';
      if (has('uploadId')) return 'CompleteMultipartUpload';
      return 'POST';
    case 'GET':
      if (has('uploads')) return 'ListMultipartUploads';
      if (has('uploadId')) return 'ListParts';
      return 'GetObject';
    case 'DELETE':
      return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'HEAD':
      return 'HeadObject';
    default:
      return method;
  }
}

if (out) {
  // The AWS SDK uses node:http.
  subscribe('http.client.request.start', (message) => {
    const req = (message as { request: ClientRequest }).request;
    bump(`s3 ${s3Operation(req.method, req.path, req)}`);
  });
  // Providers use undici.
  subscribe('undici:request:create', (message) => {
    const r = (message as { request: { method: string; path: string } }).request;
    const kind = r.path.includes('/voice-recordings/')
      ? 'media GET'
      : /\/recordings\/[^/?]+$/.test(r.path.split('?')[0] ?? '')
        ? 'metadata GET'
        : 'list GET';
    bump(`provider ${kind}`);
  });
  // node-postgres: every query of the pool goes through Client.prototype.query.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pg = require('pg') as { Client: { prototype: { query: (...args: unknown[]) => unknown } } };
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '?');
    const words = text.replace(/\s+/g, ' ').trim().split(' ');
    const table = words.find((w) => w.startsWith('callvault.')) ?? '';
    bump(`postgres ${words[0]?.toUpperCase() ?? '?'} ${table}`.trim());
    return original.apply(this, args);
  };
  // Where resident memory goes: peaks of V8's heap, buffers outside it, and the whole process.
  const memory: Record<string, number> = {};
  const sampleMemory = () => {
    for (const [k, v] of Object.entries(process.memoryUsage()))
      memory[`memory peak MB ${k}`] = Math.max(memory[`memory peak MB ${k}`] ?? 0, Math.round(v / 1e6));
  };
  setInterval(sampleMemory, 100).unref();
  const flush = () => {
    try {
      sampleMemory();
      writeFileSync(out, JSON.stringify({ ...counts, ...memory }, null, 2));
    } catch {
      // A diagnostic must never break the worker.
    }
  };
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
}
