import type { ServerSideEncryption, StorageClass, ObjectLockMode } from '@aws-sdk/client-s3';
import { retainUntil, type ArchivePolicy } from '../providers/archive';

/** The fields of PutObject and CreateMultipartUpload that carry an archive policy (the same names in both). */
export interface WriteFields {
  ObjectLockMode?: ObjectLockMode;
  ObjectLockRetainUntilDate?: Date;
  ObjectLockLegalHoldStatus?: 'ON';
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
  StorageClass?: StorageClass;
  Tagging?: string;
}

/**
 * The request fields that write `policy` onto a new object, its retention counted from `now` (the
 * moment the object is created: a multipart upload's retention is fixed when the upload begins).
 */
export function writeFields(policy: ArchivePolicy | undefined, now: Date = new Date()): WriteFields {
  if (!policy) return {};
  const fields: WriteFields = {};
  if (policy.objectLock) {
    fields.ObjectLockMode = policy.objectLock.mode;
    fields.ObjectLockRetainUntilDate = retainUntil(now, policy.objectLock.retainFor);
  }
  if (policy.legalHold) fields.ObjectLockLegalHoldStatus = 'ON';
  if (policy.encryption?.type === 'SSE-S3') fields.ServerSideEncryption = 'AES256';
  if (policy.encryption?.type === 'SSE-KMS') {
    fields.ServerSideEncryption = 'aws:kms';
    fields.SSEKMSKeyId = policy.encryption.kmsKeyId;
  }
  if (policy.storageClass) fields.StorageClass = policy.storageClass;
  if (policy.tags && Object.keys(policy.tags).length > 0)
    fields.Tagging = new URLSearchParams(policy.tags).toString().replace(/\+/g, '%20');
  return fields;
}
