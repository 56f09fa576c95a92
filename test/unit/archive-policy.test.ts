import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { retainUntil } from '../../src/providers/archive';
import { writeFields } from '../../src/storage/writePolicy';

const bird = { provider: 'bird', workspaceId: 'ws', accessKey: { env: 'BIRD_KEY' } };
const withArchive = (archive: unknown) =>
  parseConfig({ storage: { bucket: 'callvault-test' }, connections: { 'bird-eu': { ...bird, archive } } });
/** The configuration error for `archive`, which must name the field. */
const problem = (archive: unknown): string => {
  try {
    withArchive(archive);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the configuration to be refused');
};

describe("a connection's archive policy", () => {
  it("is read whole, with legal hold off by default, and becomes the write request's fields", () => {
    const conn = withArchive({
      objectLock: { mode: 'COMPLIANCE', retainFor: '7y' },
      encryption: { type: 'SSE-KMS', kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd' },
      storageClass: 'STANDARD_IA',
      tags: { 'data-class': 'call recording', team: 'support/eu' },
    }).connections['bird-eu']!;
    expect(conn.archive).toMatchObject({ legalHold: false, storageClass: 'STANDARD_IA' });
    expect(writeFields(conn.archive, new Date('2026-03-01T10:00:00Z'))).toEqual({
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date('2033-03-01T10:00:00Z'),
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd',
      StorageClass: 'STANDARD_IA',
      Tagging: 'data-class=call%20recording&team=support%2Feu',
    });
  });

  it('writes SSE-S3 as AES256 and a legal hold as ON; no policy writes nothing', () => {
    const conn = withArchive({ legalHold: true, encryption: { type: 'SSE-S3' } }).connections['bird-eu']!;
    expect(writeFields(conn.archive)).toEqual({ ObjectLockLegalHoldStatus: 'ON', ServerSideEncryption: 'AES256' });
    expect(writeFields(undefined)).toEqual({});
  });

  it('counts days from the write and years on the calendar', () => {
    expect(retainUntil(new Date('2026-01-31T00:00:00Z'), '365d')).toEqual(new Date('2027-01-31T00:00:00Z'));
    expect(retainUntil(new Date('2028-02-29T12:00:00Z'), '1y')).toEqual(new Date('2029-03-01T12:00:00Z'));
  });

  it.each([
    ['a mode S3 does not have', { objectLock: { mode: 'governance', retainFor: '7y' } }, /connections\.bird-eu\.archive\.objectLock\.mode/],
    ['a lock without a period', { objectLock: { mode: 'GOVERNANCE' } }, /connections\.bird-eu\.archive\.objectLock\.retainFor/],
    [
      'a period in months',
      { objectLock: { mode: 'GOVERNANCE', retainFor: '6m' } },
      /archive\.objectLock\.retainFor: expected a period of whole days or years, such as 365d or 7y/,
    ],
    ['a period of zero', { objectLock: { mode: 'GOVERNANCE', retainFor: '0d' } }, /archive\.objectLock\.retainFor: expected a period/],
    [
      'a period past 100 years',
      { objectLock: { mode: 'GOVERNANCE', retainFor: '101y' } },
      /archive\.objectLock\.retainFor: .*at most 100 years/,
    ],
    ['SSE-KMS without a key id', { encryption: { type: 'SSE-KMS' } }, /archive\.encryption\.kmsKeyId/],
    [
      'SSE-KMS with an empty key id',
      { encryption: { type: 'SSE-KMS', kmsKeyId: '' } },
      /archive\.encryption\.kmsKeyId: SSE-KMS needs kmsKeyId/,
    ],
    ['an encryption type S3 does not have', { encryption: { type: 'SSE-C' } }, /archive\.encryption\.type/],
    ['a key id on SSE-S3', { encryption: { type: 'SSE-S3', kmsKeyId: 'k' } }, /archive\.encryption/],
    ['a storage class that cannot be read back at once', { storageClass: 'GLACIER' }, /archive\.storageClass/],
    ['eleven tags', { tags: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`t${i}`, 'v'])) }, /archive\.tags: at most 10 tags/],
    ['a tag key S3 reserves', { tags: { 'aws:owner': 'x' } }, /archive\.tags\.'aws:owner': tag keys starting with aws: are reserved/],
    ['a tag value with characters S3 refuses', { tags: { team: 'a&b' } }, /archive\.tags\.team: tag values are letters/],
    ['legal hold as a string', { legalHold: 'yes' }, /archive\.legalHold/],
    ['an unknown field', { retention: '7y' }, /archive: .*retention/],
  ])('refuses %s, naming the field', (_what, archive, message) => {
    expect(problem(archive)).toMatch(message);
  });
});
