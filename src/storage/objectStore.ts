import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
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
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

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
   * upload unless the bytes it received have exactly that SHA-256.
   */
  async putObject(key: string, body: UploadBody, meta: ObjectMeta, signal?: AbortSignal, sha256Hex?: string): Promise<WriteResult> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: key, ...bodyOf(body), ContentType: meta.contentType, Metadata: meta.metadata });
    if (sha256Hex) withPayloadSha256(command, sha256Hex);
    const res = await this.client.send(command, { abortSignal: signal });
    return { etag: res.ETag ?? '', versionId: res.VersionId ?? null };
  }

  async createUpload(key: string, meta: ObjectMeta, signal?: AbortSignal): Promise<string> {
    const res = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: meta.contentType, Metadata: meta.metadata }),
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
      if ((err as { name?: string }).name === 'NoSuchUpload') return null;
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

  async completeUpload(key: string, uploadId: string, parts: StoredPart[], signal?: AbortSignal): Promise<WriteResult> {
    const res = await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
      }),
      { abortSignal: signal },
    );
    return { etag: res.ETag ?? '', versionId: res.VersionId ?? null };
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch((err: { name?: string }) => {
      if (err.name !== 'NoSuchUpload') throw err;
    });
  }

  /**
   * Rewrites an object's metadata in place (a server-side copy onto itself). Used after a multipart
   * upload, whose SHA-256 is only known once the last byte has passed.
   */
  async replaceMetadata(key: string, meta: ObjectMeta, signal?: AbortSignal): Promise<WriteResult> {
    const res = await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: key,
        CopySource: `${this.bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`,
        MetadataDirective: 'REPLACE',
        ContentType: meta.contentType,
        Metadata: meta.metadata,
      }),
      { abortSignal: signal },
    );
    return { etag: res.CopyObjectResult?.ETag ?? '', versionId: res.VersionId ?? null };
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
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
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
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
      for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async putJson(key: string, value: unknown, signal?: AbortSignal): Promise<WriteResult> {
    return this.putObject(key, Buffer.from(`${JSON.stringify(value, null, 2)}\n`), { contentType: 'application/json', metadata: {} }, signal);
  }
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
