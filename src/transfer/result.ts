/** What a transfer stored: the object and how its SHA-256 was obtained. */
export interface StoredObject {
  key: string;
  size: number;
  sha256: string;
  etag: string;
  versionId: string | null;
  contentType: string;
  sourceUrl: string;
  /** Where this attempt picked up: 0 when the file moved in one go, its size when an earlier attempt had stored it whole. */
  resumedFromByte: number;
  /**
   * `stream` when hashed on the way in; `read-back` when a resume forced hashing the stored
   * object; `metadata` when an earlier attempt had stored and hashed it and only its provenance was missing.
   */
  hashedBy: 'stream' | 'read-back' | 'metadata';
}

/** S3 quotes ETags; provenance keeps them bare. */
export function unquoted(etag: string): string {
  return etag.replace(/"/g, '');
}
