/**
 * Names an S3 request's operation from its method, path, query and headers, as the S3 API
 * reference names it, so a fault test reads `r.operation === 'CompleteMultipartUpload'`.
 * Path-style addressing only (/bucket/key), which is how callvault talks to SeaweedFS.
 */
export type S3Operation =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListObjectVersions'
  | 'ListMultipartUploads'
  | 'DeleteObjects'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'PutBucketVersioning'
  | 'GetObjectLockConfiguration'
  | 'PutObjectLockConfiguration'
  | 'GetBucketAcl'
  | 'PutBucketAcl'
  | 'GetBucketPolicy'
  | 'PutBucketPolicy'
  | 'GetBucketLifecycleConfiguration'
  | 'PutBucketLifecycleConfiguration'
  | 'GetBucketEncryption'
  | 'PutBucketEncryption'
  | 'GetBucketTagging'
  | 'PutBucketTagging'
  | 'PutObject'
  | 'CopyObject'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CreateMultipartUpload'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'GetObjectAttributes'
  | 'GetObjectRetention'
  | 'PutObjectRetention'
  | 'GetObjectLegalHold'
  | 'PutObjectLegalHold'
  | 'GetObjectTagging'
  | 'PutObjectTagging'
  | 'DeleteObjectTagging'
  | 'GetObjectAcl'
  | 'PutObjectAcl'
  | 'RestoreObject'
  | 'Unknown';

export interface S3Target {
  bucket: string | null;
  /** Decoded object key, or null for a bucket- or service-level request. */
  key: string | null;
}

/** Bucket and key of a path-style request path (still percent-encoded, query excluded). */
export function s3Target(rawPath: string): S3Target {
  const path = rawPath.replace(/^\/+/, '');
  if (path === '') return { bucket: null, key: null };
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodeURIComponent(path), key: null };
  const key = path.slice(slash + 1);
  return { bucket: decodeURIComponent(path.slice(0, slash)), key: key === '' ? null : decodeURIComponent(key) };
}

/** Sub-resources of a bucket, by method, that name an operation by themselves. */
const BUCKET_SUBRESOURCES: Record<string, Partial<Record<string, S3Operation>>> = {
  GET: {
    uploads: 'ListMultipartUploads',
    versions: 'ListObjectVersions',
    location: 'GetBucketLocation',
    versioning: 'GetBucketVersioning',
    'object-lock': 'GetObjectLockConfiguration',
    acl: 'GetBucketAcl',
    policy: 'GetBucketPolicy',
    lifecycle: 'GetBucketLifecycleConfiguration',
    encryption: 'GetBucketEncryption',
    tagging: 'GetBucketTagging',
  },
  PUT: {
    versioning: 'PutBucketVersioning',
    'object-lock': 'PutObjectLockConfiguration',
    acl: 'PutBucketAcl',
    policy: 'PutBucketPolicy',
    lifecycle: 'PutBucketLifecycleConfiguration',
    encryption: 'PutBucketEncryption',
    tagging: 'PutBucketTagging',
  },
  POST: { delete: 'DeleteObjects' },
};

const OBJECT_SUBRESOURCES: Record<string, Partial<Record<string, S3Operation>>> = {
  GET: {
    uploadId: 'ListParts',
    attributes: 'GetObjectAttributes',
    retention: 'GetObjectRetention',
    'legal-hold': 'GetObjectLegalHold',
    tagging: 'GetObjectTagging',
    acl: 'GetObjectAcl',
  },
  PUT: { retention: 'PutObjectRetention', 'legal-hold': 'PutObjectLegalHold', tagging: 'PutObjectTagging', acl: 'PutObjectAcl' },
  POST: { uploads: 'CreateMultipartUpload', uploadId: 'CompleteMultipartUpload', restore: 'RestoreObject' },
  DELETE: { uploadId: 'AbortMultipartUpload', tagging: 'DeleteObjectTagging' },
};

const BUCKET_PLAIN: Partial<Record<string, S3Operation>> = { PUT: 'CreateBucket', HEAD: 'HeadBucket', DELETE: 'DeleteBucket' };
const OBJECT_PLAIN: Partial<Record<string, S3Operation>> = {
  PUT: 'PutObject',
  GET: 'GetObject',
  HEAD: 'HeadObject',
  DELETE: 'DeleteObject',
};

function bySubresource(table: Partial<Record<string, S3Operation>> | undefined, query: URLSearchParams): S3Operation | undefined {
  if (!table) return undefined;
  for (const [name, op] of Object.entries(table)) if (query.has(name)) return op;
  return undefined;
}

/** The operation of one request; `headers` with lower-case names, as node gives them. */
export function s3Operation(
  method: string,
  rawPath: string,
  query: URLSearchParams,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): S3Operation {
  const { bucket, key } = s3Target(rawPath);
  const m = method.toUpperCase();
  if (bucket === null) return m === 'GET' ? 'ListBuckets' : 'Unknown';
  if (key === null) {
    const sub = bySubresource(BUCKET_SUBRESOURCES[m], query);
    if (sub) return sub;
    if (m === 'GET') return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    return BUCKET_PLAIN[m] ?? 'Unknown';
  }
  const copy = headers['x-amz-copy-source'] !== undefined;
  if (m === 'PUT' && query.has('partNumber') && query.has('uploadId')) return copy ? 'UploadPartCopy' : 'UploadPart';
  const sub = bySubresource(OBJECT_SUBRESOURCES[m], query);
  if (sub) return sub;
  if (m === 'PUT' && copy) return 'CopyObject';
  return OBJECT_PLAIN[m] ?? 'Unknown';
}

const RECORDED_REQUEST_HEADERS = [
  'content-length',
  'content-type',
  'content-encoding',
  'content-md5',
  'range',
  'if-match',
  'if-none-match',
  'x-amz-content-sha256',
  'x-amz-decoded-content-length',
  'x-amz-trailer',
  'x-amz-sdk-checksum-algorithm',
  'x-amz-checksum-algorithm',
  'x-amz-checksum-type',
  'x-amz-checksum-mode',
  'x-amz-copy-source',
  'x-amz-copy-source-range',
  'x-amz-metadata-directive',
  'x-amz-tagging',
  'x-amz-tagging-directive',
  'x-amz-storage-class',
  'x-amz-bypass-governance-retention',
];
const RECORDED_REQUEST_PREFIXES = ['x-amz-checksum-', 'x-amz-object-lock-', 'x-amz-server-side-encryption', 'x-amz-meta-'];

const RECORDED_RESPONSE_HEADERS = ['content-length', 'etag', 'x-amz-version-id', 'x-amz-delete-marker'];
const RECORDED_RESPONSE_PREFIXES = ['x-amz-checksum-', 'x-amz-object-lock-', 'x-amz-server-side-encryption', 'x-amz-storage-class'];

function pick(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  names: readonly string[],
  prefixes: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (names.includes(name) || prefixes.some((p) => name.startsWith(p))) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The request headers that say what a write asks the store to check, keep or lock. */
export function recordedRequestHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  return pick(headers, RECORDED_REQUEST_HEADERS, RECORDED_REQUEST_PREFIXES);
}

/** The response headers that say what the store kept: ETag, version, checksums, lock, encryption. */
export function recordedResponseHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  return pick(headers, RECORDED_RESPONSE_HEADERS, RECORDED_RESPONSE_PREFIXES);
}
