import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Readable } from 'node:stream';
import { type Dispatcher, Pool } from 'undici';
import type { CallvaultConfig } from '../config/schema';
import type { WriteResult } from './objectStore';

/**
 * One PutObject of a buffered body, signed with SigV4 and sent with undici, beside the AWS SDK's
 * path for everything else. A small file is one such request, and the SDK's per-request path
 * (middleware, serialisation, endpoint rules, node:http) cost 0.83-0.92 ms of CPU per 64 KiB
 * PutObject against 0.22-0.24 ms for this one, signature checked by SeaweedFS in both
 * (README.md, "Measured"). It uses the SDK client's own credentials and region, so a rotated
 * key or a session token is picked up the same way.
 *
 * Only for a configured endpoint (`storage.endpoint`); AWS's own endpoints, with their
 * virtual-host and dotted-bucket rules, stay with the SDK.
 */
export class SignedPut {
  private readonly pool: Pool;

  private constructor(
    private readonly origin: URL,
    /** `/<bucket>` with path-style addressing, else empty (the bucket is in the host). */
    private readonly bucketPath: string,
    private readonly signer: SignatureV4,
  ) {
    this.pool = new Pool(origin.origin, {
      connections: 64,
      connectTimeout: 10_000,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
      keepAliveTimeout: 30_000,
    });
  }

  /** The direct path for this store, or null where the SDK must resolve the endpoint itself. */
  static for(storage: CallvaultConfig['storage'], client: S3Client): SignedPut | null {
    if (!storage.endpoint) return null;
    const endpoint = new URL(storage.endpoint);
    const origin = storage.forcePathStyle ? endpoint : new URL(`${endpoint.protocol}//${storage.bucket}.${endpoint.host}`);
    const signer = new SignatureV4({
      service: 's3',
      region: client.config.region,
      credentials: client.config.credentials,
      sha256: NodeSha256,
      // S3 signs the path as sent, escaped once (the SDK's S3 signer says the same).
      uriEscapePath: false,
      applyChecksum: false,
    });
    return new SignedPut(origin, storage.forcePathStyle ? `/${storage.bucket}` : '', signer);
  }

  /**
   * PUTs `body` at `key` with these headers (content type, metadata, checksum), its SHA-256 as
   * the signed payload hash. Retries what S3 asks to be retried (5xx, 429, a dropped connection)
   * like the SDK's standard mode, 4 attempts in all: the body is a buffer, so it can be sent again.
   */
  async put(key: string, body: Buffer, headers: Record<string, string>, sha256Hex: string, signal?: AbortSignal): Promise<WriteResult> {
    const path = this.pathOf(key);
    for (let attempt = 1; ; attempt++) {
      try {
        const sent = { ...headers, 'content-length': String(body.length), 'x-amz-content-sha256': sha256Hex };
        return writeResultOf(await this.send(path, sent, body, signal));
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || signal?.aborted || !retryable(err)) throw err;
        await sleep(Math.random() * Math.min(20_000, 100 * 2 ** attempt), undefined, signal ? { signal } : undefined);
      }
    }
  }

  /**
   * PUTs a stream of `length` bytes in one request, its CRC32 sent after the last byte as a
   * trailer (`crc32After` is asked once the body has ended): the body is framed as one aws-chunked
   * chunk under STREAMING-UNSIGNED-PAYLOAD-TRAILER, so no byte is held back or read twice, and the
   * store refuses the object (InvalidDigest) unless the bytes it decoded have that CRC32. Sent once:
   * a stream cannot be sent again, the file's own retry fetches it again.
   *
   * `Content-Encoding: aws-chunked` is left out: the framing is declared by x-amz-content-sha256
   * and x-amz-decoded-content-length, and stores that keep the header on the object (SeaweedFS
   * 4.48 does; AWS strips it) would hand it to every reader, some of which then refuse the bytes.
   * `confirmed` says whether the store's answer echoes the CRC32: only then did it read the trailer.
   */
  async putStream(
    key: string,
    body: Readable,
    length: number,
    headers: Record<string, string>,
    crc32After: () => string,
    signal?: AbortSignal,
  ): Promise<WriteResult & { confirmed: boolean }> {
    const head = Buffer.from(`${length.toString(16)}\r\n`);
    const tail = (crc: string) => Buffer.from(`\r\n0\r\n${TRAILER}:${crc}\r\n\r\n`);
    const sent = {
      ...headers,
      'content-length': String(head.length + length + tail('AAAAAA==').length),
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-decoded-content-length': String(length),
      'x-amz-trailer': TRAILER,
    };
    let crc = '';
    async function* framed(): AsyncGenerator<Buffer> {
      yield head;
      for await (const chunk of body) yield chunk as Buffer;
      crc = crc32After();
      yield tail(crc);
    }
    const res = await this.send(this.pathOf(key), sent, Readable.from(framed(), { objectMode: false }), signal);
    return { ...writeResultOf(res), confirmed: crc !== '' && headerOf(res.headers[TRAILER]) === crc };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private pathOf(key: string): string {
    return `${this.bucketPath}/${key.split('/').map(escapeSegment).join('/')}`;
  }

  /** Signs the request (the payload hash is the x-amz-content-sha256 header given) and sends it; a non-2xx answer is thrown as an S3 error. */
  private async send(
    path: string,
    headers: Record<string, string>,
    body: Buffer | Readable,
    signal?: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const signed = await this.signer.sign({
      method: 'PUT',
      protocol: this.origin.protocol,
      hostname: this.origin.hostname,
      ...(this.origin.port ? { port: Number(this.origin.port) } : {}),
      path,
      query: {},
      headers: { ...headers, host: this.origin.host },
    });
    const res = await this.pool.request({ method: 'PUT', path, headers: signed.headers, body, ...(signal ? { signal } : {}) });
    if (res.statusCode >= 300) throw s3Error(res.statusCode, await res.body.text());
    await res.body.dump();
    return res;
  }
}

const TRAILER = 'x-amz-checksum-crc32';

function writeResultOf(res: Dispatcher.ResponseData): WriteResult {
  return { etag: headerOf(res.headers.etag) ?? '', versionId: headerOf(res.headers['x-amz-version-id']) ?? null };
}

const MAX_ATTEMPTS = 4;

/** An S3 error as the SDK would throw it: its Code as the name, the status in `$metadata`. */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $fault: 'client' | 'server';

  constructor(code: string, message: string, status: number) {
    super(message);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    this.$fault = status >= 500 ? 'server' : 'client';
  }
}

function s3Error(status: number, xml: string): S3ResponseError {
  const field = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
  const code = field('Code') ?? `HTTP${status}`;
  return new S3ResponseError(code, field('Message') ?? `PutObject answered HTTP ${status}`, status);
}

/** What the SDK's standard retry mode retries: throttling, server errors, and connections that broke. */
function retryable(err: unknown): boolean {
  if (err instanceof S3ResponseError)
    return err.$metadata.httpStatusCode >= 500 || err.$metadata.httpStatusCode === 429 || err.name === 'SlowDown';
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('UND_ERR_') || /^E[A-Z]+$/.test(code)) && code !== 'UND_ERR_ABORTED';
}

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** RFC 3986 escaping of one path segment, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function escapeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** What the signer hands its hash: a key or data as a string, bytes, or a view or buffer of bytes. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** SHA-256 and HMAC-SHA-256 from node:crypto in the shape the signer asks for. */
class NodeSha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = NodeSha256.fresh(secret);
  }

  private static fresh(secret?: SourceData): Hash | Hmac {
    return secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }

  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = NodeSha256.fresh(this.secret);
  }
}
