import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { CallvaultConfig } from '../config/schema';
import { createS3Client } from './s3';
import { SignedPut } from './signedPut';
import type { ArchivePolicy } from '../providers/archive';
import { s3ErrorOf } from './errors';
import { writeFields } from './writePolicy';
import { TransientError } from '../errors';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/** Bytes to upload: a buffer, or a stream of a length known in advance (read once, never retried by the SDK). */
export type UploadBody = Buffer | { body: Readable; length: number };

function bodyOf(body: UploadBody): { Body: Buffer | Readable; ContentLength: number } {
  return Buffer.isBuffer(body) ? { Body: body, ContentLength: body.length } : { Body: body.body, ContentLength: body.length };
}

export interface StoredPart {
  partNumber: number;
  etag: string;
  size: number;
}

export interface WriteResult {
  etag: string;
  versionId: string | null;
}

export interface ObjectMeta {
  contentType: string;
  metadata: Record<string, string>;
  /** The connection's archive policy, written with the object (never by a later copy). */
  policy?: ArchivePolicy;
}

/** The CRC32 (zlib's, as S3's x-amz-checksum-crc32) as S3 writes it: the 4 bytes big-endian, base64. */
export function crc32Base64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString('base64');
}

export interface HeadResult {
  size: number;
  etag: string;
  versionId: string | null;
  metadata: Record<string, string>;
  contentType: string | null;
}

/**
 * The S3 calls callvault makes, one method each, on one bucket. Multipart is driven part by part
 * (not lib-storage's Upload) because a resumed attempt must find and continue an upload that an
 * earlier, crashed attempt began.
 */
export class ObjectStore {
  /** Until the store once fails to confirm a checksum trailer (`putStream`). */
  private trailersConfirmed = true;

  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    /** Send CRC32 checksums the store verifies (storage.checksums). */
    readonly checksums = true,
    /** The direct path for buffered PutObjects (`./signedPut.ts`), where the store has one. */
    private readonly signedPut: SignedPut | null = null,
  ) {}

  /** The store for `storage`: one SDK client, and the direct PutObject path where it applies. */
  static for(storage: CallvaultConfig['storage'], env: NodeJS.ProcessEnv = process.env): ObjectStore {
    const client = createS3Client(storage, env);
    return new ObjectStore(client, storage.bucket, storage.checksums, SignedPut.for(storage, client));
  }

  /** Closes the store's connections. */
  async close(): Promise<void> {
    await this.signedPut?.close();
    this.client.destroy();
  }

  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((err: { name?: string }) => {
        if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
      });
    }
  }

  /**
   * `sha256Hex`, when the caller already hashed `body`, becomes the request's signed payload hash
   * (x-amz-content-sha256): the SDK then does not hash the body a second time, and S3 rejects the
   * upload unless the bytes it received have exactly that SHA-256 (AWS does; SeaweedFS 4.48 does
   * not check it). A buffered body also carries its CRC32 in x-amz-checksum-crc32, which SeaweedFS
   * and AWS both check; a streamed body's is unknown until its last byte, so it goes as a multipart
   * upload instead (`completeUpload`).
   */
  async putObject(key: string, body: UploadBody, meta: ObjectMeta, signal?: AbortSignal, sha256Hex?: string): Promise<WriteResult> {
    const checksum = this.checksums && Buffer.isBuffer(body) ? { ChecksumCRC32: crc32Base64(crc32(body)) } : {};
    // Archive policies (Object Lock, encryption, tags) stay on the SDK's path, which writes them.
    if (this.signedPut && Buffer.isBuffer(body) && !meta.policy) {
      const headers = directHeaders(meta);
      if (checksum.ChecksumCRC32) headers['x-amz-checksum-crc32'] = checksum.ChecksumCRC32;
      return this.signedPut.put(key, body, headers, sha256Hex ?? createHash('sha256').update(body).digest('hex'), signal);
    }
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ...bodyOf(body),
      ContentType: meta.contentType,
      Metadata: meta.metadata,
      ...writeFields(meta.policy),
      ...checksum,
    });
    if (sha256Hex) withPayloadSha256(command, sha256Hex);
    const res = await this.client.send(command, { abortSignal: signal });
    return { etag: res.ETag ?? '', versionId: res.VersionId ?? null };
  }

  /**
   * Whether a streamed body can go up in one PutObject with its CRC32 as a trailer (`putStream`):
   * on the direct path, with checksums on, without an archive policy, and until the store has
   * once failed to confirm a trailer.
   */
  streamsInOnePut(meta: ObjectMeta): boolean {
    return this.signedPut !== null && this.checksums && !meta.policy && this.trailersConfirmed;
  }

  /**
   * Stores a streamed body of known length in one PutObject, the CRC32 `crc32After()` gives once
   * the body has ended sent as a trailer the store checks: one request where a multipart upload
   * takes three. A store that does not confirm the trailer (no echo of the CRC32, or a refusal
   * of the framing) is not asked again: the file fails as transient, and its retry and every
   * later file go up as multipart uploads, which carry their CRC32 in the completion instead.
   */
  async putStream(
    key: string,
    body: { body: Readable; length: number },
    meta: ObjectMeta,
    crc32After: () => number,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    if (!this.signedPut) throw new Error('putStream needs the direct path (storage.endpoint)');
    const put = await this.signedPut
      .putStream(key, body.body, body.length, directHeaders(meta), () => crc32Base64(crc32After()), signal)
      .catch((err: unknown) => {
        if (!refusesTrailers(err)) throw err;
        throw this.noMoreTrailers(`${key}: the store refused a checksum trailer (${(err as Error).message})`);
      });
    if (!put.confirmed) throw this.noMoreTrailers(`${key}: the store did not confirm the CRC32 sent after the body`);
    return put;
  }

  private noMoreTrailers(why: string): TransientError {
    this.trailersConfirmed = false;
    return new TransientError(`${why}; files sent in one stream go up as multipart uploads from now on`);
  }

  /**
   * Begins a multipart upload. With checksums on it declares a full-object CRC32, which the
   * caller computes while streaming and hands to `completeUpload`: parts go without a checksum of
   * their own (a streamed part's is only known after its last byte, and a header must come first),
   * and the state to carry across a crash is one 32-bit number.
   */
  async createUpload(key: string, meta: ObjectMeta, signal?: AbortSignal): Promise<string> {
    const checksum = this.checksums ? ({ ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' } as const) : {};
    const res = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        ContentType: meta.contentType,
        Metadata: meta.metadata,
        ...writeFields(meta.policy),
        ...checksum,
      }),
      { abortSignal: signal },
    );
    if (!res.UploadId) throw new Error(`S3 gave no UploadId for ${key}`);
    return res.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: UploadBody, signal?: AbortSignal): Promise<StoredPart> {
    const { Body, ContentLength } = bodyOf(body);
    const res = await this.client.send(
      new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body, ContentLength }),
      { abortSignal: signal },
    );
    return { partNumber, etag: res.ETag ?? '', size: ContentLength };
  }

  /** Every part of an upload (ListParts pages at 1,000), or null when the upload no longer exists. */
  async listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<StoredPart[] | null> {
    // SeaweedFS lists a part uploaded twice twice, under one number: keep the newest of each.
    const newest = new Map<number, StoredPart & { at: number }>();
    let marker: string | undefined;
    try {
      for (;;) {
        const res = await this.client.send(
          new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
          { abortSignal: signal },
        );
        for (const p of res.Parts ?? []) {
          if (p.PartNumber === undefined) continue;
          const at = p.LastModified?.getTime() ?? 0;
          const seen = newest.get(p.PartNumber);
          if (!seen || seen.at <= at) newest.set(p.PartNumber, { partNumber: p.PartNumber, etag: p.ETag ?? '', size: p.Size ?? 0, at });
        }
        if (!res.IsTruncated || !res.NextPartNumberMarker) break;
        marker = res.NextPartNumberMarker;
      }
    } catch (err) {
      if (s3ErrorOf(err).name === 'NoSuchUpload') return null;
      throw err;
    }
    return [...newest.values()].map(({ at: _at, ...part }) => part).sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Uploads in progress for exactly this key, newest first. */
  async findUploads(key: string, signal?: AbortSignal): Promise<string[]> {
    const res = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key }), { abortSignal: signal });
    return (res.Uploads ?? [])
      .filter((u) => u.Key === key && u.UploadId)
      .sort((a, b) => (b.Initiated?.getTime() ?? 0) - (a.Initiated?.getTime() ?? 0))
      .map((u) => u.UploadId as string);
  }

  /** Uploads in progress for keys starting with `prefix` (every key a file may have, whatever its extension). */
  async findUploadsUnder(prefix: string, signal?: AbortSignal): Promise<Array<{ key: string; uploadId: string }>> {
    const res = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix }), { abortSignal: signal });
    return (res.Uploads ?? []).flatMap((u) => (u.Key && u.UploadId ? [{ key: u.Key, uploadId: u.UploadId }] : []));
  }

  /**
   * Completes an upload. `crc32`, the CRC32 of the whole object as the caller streamed it, is sent
   * for the store to check against what it assembled (a mismatch is refused with BadDigest); null
   * when it is not known (an upload resumed without its checkpoint, or begun without checksums).
   */
  async completeUpload(
    key: string,
    uploadId: string,
    parts: StoredPart[],
    crc32: number | null,
    signal?: AbortSignal,
  ): Promise<WriteResult> {
    const checksum = this.checksums && crc32 !== null ? ({ ChecksumCRC32: crc32Base64(crc32), ChecksumType: 'FULL_OBJECT' } as const) : {};
    const res = await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        ...checksum,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
      }),
      { abortSignal: signal },
    );
    return { etag: res.ETag ?? '', versionId: res.VersionId ?? null };
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
      .catch((err: { name?: string }) => {
        if (err.name !== 'NoSuchUpload') throw err;
      });
  }

  async head(key: string, signal?: AbortSignal): Promise<HeadResult | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return {
        size: res.ContentLength ?? 0,
        etag: res.ETag ?? '',
        versionId: res.VersionId ?? null,
        metadata: res.Metadata ?? {},
        contentType: res.ContentType ?? null,
      };
    } catch (err) {
      const { name, status } = s3ErrorOf(err);
      if (name === 'NotFound' || name === 'NoSuchKey' || status === 404) return null;
      throw err;
    }
  }

  async readStream(key: string, signal?: AbortSignal): Promise<Readable> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
    return res.Body as Readable;
  }

  /** Every key under `prefix`, a listing page (1,000 keys) at a time. */
  async *listKeys(prefix: string, signal?: AbortSignal): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }), {
        abortSignal: signal,
      });
      for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Writes a JSON document (a manifest). Under an archive policy it is locked, encrypted and
   * stored as the objects it describes, but never put under legal hold or tagged: those are
   * about recordings, and a hold is set per recording.
   */
  async putJson(key: string, value: unknown, signal?: AbortSignal, policy?: ArchivePolicy): Promise<WriteResult> {
    const meta: ObjectMeta = {
      contentType: 'application/json',
      metadata: {},
      ...(policy ? { policy: { ...policy, legalHold: false, tags: undefined } } : {}),
    };
    return this.putObject(key, Buffer.from(`${JSON.stringify(value, null, 2)}\n`), meta, signal);
  }
}

/** Content type and metadata as the direct path's request headers. */
function directHeaders(meta: ObjectMeta): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': meta.contentType };
  for (const [name, value] of Object.entries(meta.metadata)) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
  return headers;
}

/**
 * Whether a store's refusal of a streamed PutObject may be of the framing itself: any 4xx or 501
 * but a changed byte (BadDigest, InvalidDigest: the file's own, sent again) or a request to slow
 * down. Stores word it differently (SeaweedFS without identities answers InvalidAccessKeyId, to
 * this request only), and a refusal of the caller is met again, and told, on the multipart path.
 */
function refusesTrailers(err: unknown): boolean {
  const { name, status } = s3ErrorOf(err);
  if (status === undefined || name === 'BadDigest' || name === 'InvalidDigest') return false;
  return (status >= 400 && status < 500 && status !== 408 && status !== 429) || status === 501;
}

/**
 * Signs a request with a payload hash the caller computed. SigV4's signer takes the
 * x-amz-content-sha256 header as given and hashes the body only when it is absent.
 */
function withPayloadSha256(command: PutObjectCommand, sha256Hex: string): void {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = sha256Hex;
      return next(args);
    },
    { step: 'build', name: 'callvaultPayloadSha256' },
  );
}
