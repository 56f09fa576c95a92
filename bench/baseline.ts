import { fork } from 'node:child_process';
import type { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Agent, request } from 'undici';
import type { CallvaultConfig } from '../src/config/schema';
import { createS3Client } from '../src/storage/s3';
import type { SimulatorInfo } from './simulator';
import type { Window } from '../src/contracts/window';

/**
 * The raw baseline: what a plain script would do to copy the same recordings into the same store.
 * It lists the window (with the same API the pipeline lists with, which hands out the signed
 * media URLs), then `concurrency` loops each take the next file, GET it from the simulator's
 * storage origin and stream it into S3: one PutObject with the body stream and its Content-Length
 * for a file smaller than a part, else a multipart upload of part-size buffers. Same S3 client
 * settings and part size as the worker; no Temporal, no provenance, no hashing, no manifest.
 *
 * It runs in a fresh child process per phase (`startBaseline`), as the pipeline's workers do: a
 * loop in the long-lived bench process would be JIT-warm from the second phase on while the
 * workers start cold every time, and its CPU would mix with the bench's own sampling.
 */
export interface BaselineInput {
  sim: SimulatorInfo;
  s3: S3Client;
  bucket: string;
  window: Window;
  concurrency: number;
  partSize: number;
  onFileDone?: () => void;
}

export interface BaselineResult {
  files: number;
  bytes: number;
  seconds: number;
}

export interface Listed {
  id: string;
  url: string;
}

export async function runBaseline(input: BaselineInput): Promise<BaselineResult> {
  const agent = new Agent({ connections: 32, keepAliveTimeout: 30_000 });
  const started = process.hrtime.bigint();
  try {
    const files = await listAll(input, agent);
    let next = 0;
    let bytes = 0;
    const loop = async () => {
      for (;;) {
        const file = files[next++];
        if (!file) return;
        const n = await copyOne(input, agent, file);
        bytes += n;
        input.onFileDone?.();
      }
    };
    await Promise.all(Array.from({ length: input.concurrency }, loop));
    return { files: files.length, bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } finally {
    await agent.close();
  }
}

/** The window's recordings with the signed media URLs the listing hands out (the rclone phase copies from these too). */
export async function listRecordings(input: Pick<BaselineInput, 'sim' | 'window'>): Promise<Listed[]> {
  const agent = new Agent({ connections: 4 });
  try {
    return await listAll(input, agent);
  } finally {
    await agent.close();
  }
}

async function listAll(input: Pick<BaselineInput, 'sim' | 'window'>, agent: Agent): Promise<Listed[]> {
  const files: Listed[] = [];
  let token: string | undefined;
  do {
    const url = new URL(`${input.sim.baseUrl}/workspaces/${input.sim.workspaceId}/recordings`);
    url.searchParams.set('limit', '99');
    url.searchParams.set('startAt', input.window.from);
    url.searchParams.set('endAt', input.window.to);
    if (token) url.searchParams.set('pageToken', token);
    const res = await request(url, { headers: { authorization: `AccessKey ${input.sim.accessKey}` }, dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`baseline: listing answered ${res.statusCode}: ${await res.body.text()}`);
    const page = (await res.body.json()) as { results: Array<{ id: string; url?: string }>; nextPageToken?: string };
    for (const r of page.results) {
      if (!r.url) throw new Error(`baseline: recording ${r.id} has no media URL`);
      files.push({ id: r.id, url: r.url });
    }
    token = page.nextPageToken;
  } while (token);
  return files;
}

async function copyOne(input: BaselineInput, agent: Agent, file: Listed): Promise<number> {
  const res = await request(file.url, { dispatcher: agent });
  if (res.statusCode !== 200) throw new Error(`baseline: GET ${file.id} answered ${res.statusCode}`);
  const length = Number(res.headers['content-length']);
  const key = `baseline/${file.id}.mp3`;
  const { s3, bucket, partSize } = input;
  if (length < partSize) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: res.body, ContentLength: length, ContentType: 'audio/mpeg' }));
    return length;
  }
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'audio/mpeg' }));
  const uploadId = created.UploadId!;
  const parts: Array<{ PartNumber: number; ETag: string }> = [];
  let bytes = 0;
  for await (const part of parts_(res.body, partSize)) {
    const n = parts.length + 1;
    const up = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: part, ContentLength: part.length }),
    );
    parts.push({ PartNumber: n, ETag: up.ETag ?? '' });
    bytes += part.length;
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  return bytes;
}

/** Part-size buffers from a stream (the last one shorter), one buffer reused, read on demand. */
async function* parts_(body: Readable, partSize: number): AsyncGenerator<Buffer> {
  const buffer = Buffer.allocUnsafe(partSize);
  let filled = 0;
  for await (const raw of body) {
    let chunk = raw as Buffer;
    while (chunk.length > 0) {
      const n = Math.min(partSize - filled, chunk.length);
      chunk.copy(buffer, filled, 0, n);
      filled += n;
      chunk = chunk.subarray(n);
      if (filled === partSize) {
        yield buffer;
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

/** What the child needs: everything but the S3 client, which it builds from the storage settings. */
export interface BaselineSpec extends Omit<BaselineInput, 's3' | 'onFileDone'> {
  storage: CallvaultConfig['storage'];
}

export interface BaselineProcess {
  pid: number;
  /** Runs the copy once; the child exits when it is done. */
  run(spec: BaselineSpec, onFiles: (done: number) => void): Promise<BaselineResult>;
  /** Kills the child if it is still there (after a failure in the parent). */
  kill(): void;
}

type FromBaseline =
  | { type: 'ready' }
  | { type: 'files'; done: number }
  | { type: 'result'; result: BaselineResult }
  | { type: 'error'; message: string };

/** How often the child reports its file count: often enough for a progress line, cheap for the loop. */
const PROGRESS_INTERVAL_MS = 500;

/**
 * Starts the baseline's child process and waits until it has loaded its modules, so that start-up
 * is neither timed nor metered, as the workers' start-up is not. `env` carries the S3 credentials
 * the storage settings name.
 */
export async function startBaseline(env: NodeJS.ProcessEnv): Promise<BaselineProcess> {
  const child = fork(__filename, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let settled = false;
  let onMessage: (msg: FromBaseline) => void = () => undefined;
  let onEnd: (err: Error) => void = () => undefined;
  child.on('message', (msg: FromBaseline) => onMessage(msg));
  child.once('error', (err) => onEnd(err));
  child.once('exit', (code, signal) => {
    process.off('exit', kill);
    if (!settled) onEnd(new Error(`baseline process exited (${signal ?? code}) before it finished`));
  });
  await new Promise<void>((resolve, reject) => {
    onMessage = (msg) => (msg.type === 'ready' ? resolve() : undefined);
    onEnd = reject;
  });
  return {
    pid: child.pid!,
    kill,
    run(spec, onFiles) {
      return new Promise<BaselineResult>((resolve, reject) => {
        onEnd = reject;
        onMessage = (msg) => {
          if (msg.type === 'files') onFiles(msg.done);
          else if (msg.type === 'result') {
            settled = true;
            resolve(msg.result);
          } else if (msg.type === 'error') {
            settled = true;
            reject(new Error(`baseline: ${msg.message}`));
          }
        };
        child.send(spec);
      });
    },
  };
}

function runChild(): void {
  const send = (msg: FromBaseline) => new Promise<void>((resolve) => process.send!(msg, () => resolve()));
  process.once('message', (spec: BaselineSpec) => {
    const s3 = createS3Client(spec.storage, process.env);
    let done = 0;
    const ticker = setInterval(() => void send({ type: 'files', done }), PROGRESS_INTERVAL_MS);
    runBaseline({ ...spec, s3, onFileDone: () => done++ })
      .then(
        (result) => send({ type: 'result', result }),
        (err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      )
      .finally(() => {
        clearInterval(ticker);
        s3.destroy();
        process.disconnect();
      });
  });
  void send({ type: 'ready' });
}

if (require.main === module && process.argv.includes('--child')) runChild();
