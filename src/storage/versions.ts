import {
  DeleteObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  PutObjectLegalHoldCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectVersionRef } from '../contracts/erasure';
import { s3ErrorOf } from './errors';

/** What the store's Object Lock says about one version. */
export interface VersionLock {
  legalHold: boolean;
  /** A retention in force (retain-until in the future). */
  retention: { mode: string; until: string } | null;
}

/**
 * The calls erasure and legal holds make on one bucket: every version of a key, its Object Lock
 * state, deleting a version, putting a legal hold. A bucket without Object Lock has no lock state
 * (SeaweedFS answers 400 to the lock calls there, S3 an error too): `lockEnabled()` says which.
 */
export class ObjectVersions {
  private lock: Promise<boolean> | undefined;

  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  /** Whether the bucket has Object Lock (asked once per instance). */
  lockEnabled(): Promise<boolean> {
    this.lock ??= this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket })).then(
      (res) => res.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled',
      (err: unknown) => {
        const { name, status } = s3ErrorOf(err);
        if (name === 'ObjectLockConfigurationNotFoundError' || status === 404 || status === 400) return false;
        this.lock = undefined;
        throw err;
      },
    );
    return this.lock;
  }

  /**
   * Every version and delete marker of exactly `key` (an unversioned bucket lists one, `null`).
   * Deleting each by id leaves nothing behind: a plain DELETE in a versioned bucket only adds a marker.
   * `markers: false` leaves delete markers out (they take no legal hold).
   */
  async versionsOf(key: string, options: { markers: boolean } = { markers: true }): Promise<ObjectVersionRef[]> {
    const out: ObjectVersionRef[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
      );
      for (const v of [...(page.Versions ?? []), ...(options.markers ? (page.DeleteMarkers ?? []) : [])]) {
        if (v.Key === key) out.push({ key, versionId: v.VersionId ?? 'null' });
      }
      if (!page.IsTruncated) return out;
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
    }
  }

  /** The version's legal hold and retention in force at `now` (ms); nothing when the bucket has no Object Lock. */
  async lockOf(ref: ObjectVersionRef, now: number): Promise<VersionLock> {
    if (!(await this.lockEnabled())) return { legalHold: false, retention: null };
    const params = this.versionParams(ref);
    const [legalHold, retention] = await Promise.all([
      this.client.send(new GetObjectLegalHoldCommand(params)).then((r) => r.LegalHold?.Status === 'ON', absentAs(false)),
      this.client.send(new GetObjectRetentionCommand(params)).then((r) => {
        const until = r.Retention?.RetainUntilDate;
        return until && until.getTime() > now ? { mode: r.Retention?.Mode ?? 'unknown', until: until.toISOString() } : null;
      }, absentAs(null)),
    ]);
    return { legalHold, retention };
  }

  async deleteVersion(ref: ObjectVersionRef): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: ref.key, VersionId: ref.versionId }));
  }

  /** Puts the store's legal hold on or off a version. Only in a bucket with Object Lock. */
  async setLegalHold(ref: ObjectVersionRef, on: boolean): Promise<void> {
    await this.client.send(new PutObjectLegalHoldCommand({ ...this.versionParams(ref), LegalHold: { Status: on ? 'ON' : 'OFF' } }));
  }

  /** Bucket, key and version id; an unversioned bucket's `null` version is addressed without one. */
  private versionParams(ref: ObjectVersionRef): { Bucket: string; Key: string; VersionId?: string } {
    return { Bucket: this.bucket, Key: ref.key, ...(ref.versionId !== 'null' ? { VersionId: ref.versionId } : {}) };
  }
}

/**
 * A version without a hold or retention of its own: S3 answers NoSuchObjectLockConfiguration,
 * SeaweedFS ObjectLockConfigurationNotFoundError (404); a delete marker has neither (405).
 */
function absentAs<T>(value: T): (err: unknown) => T {
  return (err) => {
    const { name, status } = s3ErrorOf(err);
    if (name === 'NoSuchObjectLockConfiguration' || name === 'ObjectLockConfigurationNotFoundError' || status === 404 || status === 405)
      return value;
    throw err;
  };
}
