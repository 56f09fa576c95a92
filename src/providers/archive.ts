import { z } from 'zod';

/**
 * A connection's archive policy: how its objects are written (README.md, "Archive policy"). Every
 * setting becomes a header of the request that creates the object (PutObject or
 * CreateMultipartUpload), never a later copy: in a versioned or locked bucket a copy is a second
 * version. Nothing here is a secret (a KMS key id names a key, it does not hold one).
 */

/** A retention period: whole days or years, `365d` or `7y`. */
export const RETENTION_PERIOD = /^([1-9][0-9]{0,5})([dy])$/;
const MAX_RETENTION_DAYS = 100 * 366;

/** Days in `period` as a bound check (years counted as 366 days), or null when it is not a period. */
function periodDays(period: string): number | null {
  const m = RETENTION_PERIOD.exec(period);
  if (!m) return null;
  return Number(m[1]) * (m[2] === 'y' ? 366 : 1);
}

const periodSchema = z.string().refine((p) => {
  const days = periodDays(p);
  return days !== null && days <= MAX_RETENTION_DAYS;
}, 'expected a period of whole days or years, such as 365d or 7y (at most 100 years)');

/**
 * Storage classes whose objects can be read at once. GLACIER and DEEP_ARCHIVE are refused: a
 * resumed file is hashed by reading it back, and `callvault verify` re-reads content; move objects
 * there with a lifecycle rule once they are verified.
 */
export const STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'REDUCED_REDUNDANCY',
] as const;

/** S3's tag rules: up to 10 tags; keys 1-128 and values 0-256 of letters, digits, spaces and + - = . _ : / @. */
const TAG_TEXT = /^[\p{L}\p{N} +\-=._:/@]*$/u;
const tagsSchema = z
  .record(z.string(), z.string().max(256).regex(TAG_TEXT, 'tag values are letters, digits, spaces and + - = . _ : / @'))
  .superRefine((tags, ctx) => {
    const keys = Object.keys(tags);
    if (keys.length > 10) ctx.addIssue({ code: 'custom', message: 'at most 10 tags (S3 refuses more)' });
    for (const key of keys) {
      const problem =
        key.length < 1 || key.length > 128
          ? 'tag keys are 1-128 characters'
          : !TAG_TEXT.test(key)
            ? 'tag keys are letters, digits, spaces and + - = . _ : / @'
            : key.startsWith('aws:')
              ? 'tag keys starting with aws: are reserved'
              : null;
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
    }
  });

const encryptionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('SSE-S3') }).strict(),
  z
    .object({
      type: z.literal('SSE-KMS'),
      /** A key id, key ARN or alias (alias/name); required: the bucket's default key is what an unset policy gets. */
      kmsKeyId: z
        .string()
        .min(1, 'SSE-KMS needs kmsKeyId (a key id, key ARN or alias/name)')
        .max(2048)
        .regex(/^\S+$/, 'a KMS key id has no spaces'),
    })
    .strict(),
]);

export const archivePolicySchema = z
  .object({
    /** S3 Object Lock: mode and how long from the write each object stays locked. The bucket must have Object Lock enabled. */
    objectLock: z
      .object({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), retainFor: periodSchema })
      .strict()
      .optional(),
    /** Puts every object under legal hold when written (lifted per object by the hold commands). */
    legalHold: z.boolean().default(false),
    encryption: encryptionSchema.optional(),
    storageClass: z.enum(STORAGE_CLASSES).optional(),
    tags: tagsSchema.optional(),
  })
  .strict();

export type ArchivePolicy = z.infer<typeof archivePolicySchema>;

/** The instant a period after `from` ends: days added, years on the calendar (a 7y lock from 29 Feb ends 1 Mar). */
export function retainUntil(from: Date, period: string): Date {
  const m = RETENTION_PERIOD.exec(period);
  if (!m) throw new RangeError(`not a retention period: ${period}`);
  const n = Number(m[1]);
  const until = new Date(from.getTime());
  if (m[2] === 'd') until.setUTCDate(until.getUTCDate() + n);
  else until.setUTCFullYear(until.getUTCFullYear() + n);
  return until;
}
