import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { keysOf, refusalOf } from '../../activities/erasurePlan';
import { ManifestRedactor } from '../../activities/manifestRedaction';
import { classify } from '../../activities/list';
import { selectionFromOptions } from '../../src/cli/fileSelection';
import { emptyEraseResult, parseEraseInput, RESULT_SAMPLE, selectionOf, tallyErased, tallyPlanned } from '../../src/contracts/erasure';
import type { SourceItem } from '../../src/contracts/sourceItem';
import type { FileState } from '../../src/provenance/store';
import type { ObjectVersions } from '../../src/storage/versions';
import { adoptionBlocker, describeOrphan, eraseAgainCommand, orphanText } from '../../src/verify/findings';

const base = { connection: 'bird-eu', by: 'dpo', reason: 'GDPR request 7' };

describe('erase input', () => {
  it('takes conversations, source ids or a window, with who and why, dry run off by default', () => {
    expect(parseEraseInput({ ...base, conversationIds: ['c1', 'c2'] })).toEqual({ ...base, conversationIds: ['c1', 'c2'], dryRun: false });
    expect(parseEraseInput({ ...base, sourceIds: ['r1'], dryRun: true })).toEqual({ ...base, sourceIds: ['r1'], dryRun: true });
    expect(parseEraseInput({ ...base, from: '2026-03-01', to: '2026-03-02T00:00:00+01:00' })).toMatchObject({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-01T23:00:00.000Z',
    });
  });

  it.each([
    [{ ...base }, /conversationIds: name the files: conversationIds, sourceIds, or a window/],
    [{ ...base, conversationIds: ['c'], sourceIds: ['r'] }, /conversationIds, sourceIds: give one of .* not several/],
    [{ ...base, sourceIds: ['r'], from: '2026-03-01', to: '2026-03-02' }, /not several/],
    [{ ...base, from: '2026-03-01' }, /to: a window needs both from and to/],
    [{ ...base, to: '2026-03-01' }, /from: a window needs both from and to/],
    [{ ...base, from: '2026-03-02', to: '2026-03-01' }, /to: must be later than from/],
    [{ ...base, from: '2026-02-30', to: '2026-03-01' }, /from: 2026-02-30 is not a date in the calendar/],
    [{ ...base, conversationIds: [] }, /conversationIds: expected at least one id/],
    [{ ...base, conversationIds: 'c1' }, /conversationIds: expected a list/],
    [{ ...base, sourceIds: ['ok', 'bad\u0000id'] }, /sourceIds\.1: control characters/],
    [{ ...base, sourceIds: Array.from({ length: 1001 }, (_, i) => `r${i}`) }, /sourceIds: at most 1000 entries/],
    [{ ...base, sourceIds: ['x'.repeat(513)] }, /sourceIds\.0: at most 512 characters/],
    [{ connection: 'bird-eu', reason: 'r', sourceIds: ['r'] }, /by: expected a string/],
    [{ connection: 'bird-eu', by: 'dpo', sourceIds: ['r'] }, /reason: expected a string/],
    [{ ...base, reason: '', sourceIds: ['r'] }, /reason: must not be empty/],
    [{ ...base, sourceIds: ['r'], dryRun: 'yes' }, /dryRun: expected true or false/],
    [{ ...base, sourceIds: ['r'], token: 'secret' }, /token: unknown field/],
    [{ ...base, connection: 'Bird EU', sourceIds: ['r'] }, /connection: use 1-63 lowercase/],
    [{ ...base, sourceIds: ['r'], ['__proto__']: { by: 'x' } }, /unknown field/],
    [[], /input: expected an object/],
  ])('refuses %j naming the field', (raw, message) => {
    expect(() => parseEraseInput(raw)).toThrow(new RegExp(`^invalid erase input: .*${message.source}`));
  });

  it("keeps only the selection's own form", () => {
    expect(selectionOf({ from: 'a', to: 'b' })).toEqual({ from: 'a', to: 'b' });
    expect(selectionOf({ sourceIds: ['r'] })).toEqual({ sourceIds: ['r'] });
  });
});

describe('the hold and erase flags', () => {
  const opts = { connection: 'bird-eu', by: 'dpo', reason: 'r' };
  it('name the flag, not the workflow field', () => {
    expect(() => selectionFromOptions(opts)).toThrow(
      /--conversation: name the files: --conversation, --source-id, or a window \(--from and --to\)/,
    );
    expect(() => selectionFromOptions({ ...opts, conversation: ['c'], sourceId: ['r'] })).toThrow(
      /--conversation, --source-id: give one of/,
    );
    expect(() => selectionFromOptions({ ...opts, from: '2026-03-01' })).toThrow(/--to: a window needs both --from and --to/);
    expect(() => selectionFromOptions({ ...opts, from: '2026-03-02', to: '2026-03-01' })).toThrow(/--to: must be later than --from/);
    expect(() => selectionFromOptions(opts)).toThrow(InvalidArgumentError);
  });

  it('give the selection the workflow takes', () => {
    expect(selectionFromOptions({ ...opts, conversation: ['c1', 'c2'] })).toEqual({ conversationIds: ['c1', 'c2'] });
    expect(selectionFromOptions({ ...opts, from: '2026-03-01', to: '2026-03-02' })).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-02T00:00:00.000Z',
    });
  });
});

describe('what an erasure refuses', () => {
  const ref = { key: 'p/bird/c/2026/03/01/conv/r1.mp3', versionId: 'v1' };
  const free = { legalHold: false, retention: null };
  const file = { hold: null, bucket: 'archive' };

  it('refuses a file held in provenance, whatever the store says', () => {
    const hold = { by: 'legal', reason: 'litigation 42', at: new Date('2026-03-01T10:00:00Z') };
    expect(refusalOf({ ...file, hold }, 'archive', [{ ref, lock: free }])).toBe(
      'legal hold set by legal on 2026-03-01T10:00:00.000Z: litigation 42',
    );
  });

  it("refuses a version under the store's legal hold or a retention in force, naming the version and the date", () => {
    expect(refusalOf(file, 'archive', [{ ref, lock: { legalHold: true, retention: null } }])).toBe(
      `the store has a legal hold on ${ref.key} version v1`,
    );
    const retention = { mode: 'COMPLIANCE', until: '2033-01-01T00:00:00.000Z' };
    expect(
      refusalOf(file, 'archive', [
        { ref, lock: free },
        { ref: { ...ref, versionId: 'v2' }, lock: { legalHold: false, retention } },
      ]),
    ).toBe(`COMPLIANCE retention until 2033-01-01T00:00:00.000Z on ${ref.key} version v2`);
  });

  it('refuses a file recorded in another bucket, and lets the rest through', () => {
    expect(refusalOf({ ...file, bucket: 'old' }, 'archive', [])).toBe("recorded in bucket old, but this deployment's bucket is archive");
    expect(refusalOf(file, 'archive', [{ ref, lock: free }])).toBeUndefined();
    expect(refusalOf({ ...file, bucket: null }, 'archive', [])).toBeUndefined();
  });

  it('deletes the data object and a legacy sidecar, and no key for a file never stored', () => {
    expect(keysOf({ objectKey: 'a/b.mp3' })).toEqual(['a/b.mp3', 'a/b.mp3.json']);
    expect(keysOf({ objectKey: null })).toEqual([]);
  });
});

describe('the erase result', () => {
  it('counts every file and names the first of each outcome', () => {
    const result = emptyEraseResult({ connection: 'c', dryRun: false });
    const objects = [{ key: 'k', versionId: 'v' }];
    tallyErased(result, [
      { sourceId: 'a', outcome: 'erased', deleted: [...objects, ...objects] },
      { sourceId: 'b', outcome: 'refused', reason: 'held' },
      { sourceId: 'c', outcome: 'gone' },
      ...Array.from({ length: RESULT_SAMPLE + 5 }, (_, i) => ({ sourceId: `x${i}`, outcome: 'erased' as const, deleted: objects })),
    ]);
    expect(result).toMatchObject({
      matched: RESULT_SAMPLE + 7,
      erased: RESULT_SAMPLE + 6,
      refused: 1,
      gone: 1,
      versionsDeleted: RESULT_SAMPLE + 7,
    });
    expect(result.files).toHaveLength(RESULT_SAMPLE);
    expect(result.refusals).toEqual([{ sourceId: 'b', reason: 'held' }]);
  });

  it('counts a dry run from the plan', () => {
    const result = emptyEraseResult({ connection: 'c', dryRun: true });
    tallyPlanned(result, [
      { sourceId: 'a', conversationId: 'x', sha256: 'h', objects: [{ key: 'k', versionId: 'v' }] },
      { sourceId: 'b', conversationId: 'x', sha256: 'h', objects: [], refused: 'held' },
    ]);
    expect(result).toMatchObject({
      matched: 2,
      erased: 1,
      refused: 1,
      versionsDeleted: 1,
      files: [{ sourceId: 'a' }],
      refusals: [{ sourceId: 'b', reason: 'held' }],
    });
  });
});

describe('tombstones elsewhere', () => {
  it('the listing skips an erased file like a stored one, and never fetches it', () => {
    const item = (sourceId: string): SourceItem => ({
      sourceId,
      kind: 'recording',
      conversationId: 'c',
      createdAt: '2026-03-01T00:00:00Z',
      locator: {},
    });
    const state = (status: FileState['status']): FileState => ({
      status,
      workflowId: 'w',
      exportRun: 'old',
      size: null,
      failureCode: null,
      failureReason: null,
    });
    const known = new Map([
      ['erased', state('erased')],
      ['failed', state('failed')],
    ]);
    expect(classify([item('erased'), item('failed'), item('new')], known, 'run')).toEqual({
      items: [item('failed'), item('new')],
      alreadyStored: ['erased'],
    });
  });

  it('verify reports an object of an erased file with the command that erases it, and never adopts it', () => {
    const entry = {
      objectKey: 'k',
      size: 10,
      sha256: 'h',
      sourceId: 'r1',
      workflowId: 'w',
      manifestKey: 'm',
      transferredAt: '2026-03-01T00:00:00Z',
    };
    const detail = describeOrphan(10, entry, { status: 'erased', failureCode: null, objectKey: 'k', workflowId: 'w' });
    expect(detail.source).toBe('erased');
    expect(adoptionBlocker(detail)).toBe('source erased');
    const fix = eraseAgainCommand('bird-eu', 'r1');
    expect(fix).toBe('callvault erase --connection bird-eu --source-id r1 --by <you> --reason <why>');
    expect(orphanText(detail, 'k', fix)).toBe(`object of an erased file (a tombstone says it was deleted); erase it again: ${fix}`);
    expect(eraseAgainCommand('bird-eu', "it's odd")).toContain(`--source-id 'it'\\''s odd'`);
  });
});

describe('a manifest rewritten without an erased file', () => {
  const versions = [
    { key: 'm.json', versionId: 'v1' },
    { key: 'm.json', versionId: 'v2' },
  ];
  const doc = { manifest: 1, files: [{ object: { key: 'gone.mp3' } }, { object: { key: 'kept.mp3' } }] };

  async function redact(newVersion: string | null, old = versions) {
    const written: unknown[] = [];
    const deleted: unknown[] = [];
    const store = {
      putJson: async (_key: string, value: unknown) => {
        written.push(value);
        return { etag: 'e', versionId: newVersion };
      },
      listKeys: async function* () {},
      readStream: async () => {
        throw new Error('unused');
      },
    };
    const objectVersions = { deleteVersion: async (ref: unknown) => void deleted.push(ref) } as unknown as ObjectVersions;
    await new ManifestRedactor(store as never, objectVersions, 'p').redact({ key: 'm.json', doc, versions: old }, 'gone.mp3');
    return { written, deleted };
  }

  it('keeps the other entries and the header, and deletes every version it replaced', async () => {
    const { written, deleted } = await redact('v3');
    expect(written).toEqual([{ manifest: 1, files: [{ object: { key: 'kept.mp3' } }] }]);
    expect(deleted).toEqual(versions);
  });

  it('in an unversioned bucket, deletes nothing: the PUT replaced the one version', async () => {
    expect((await redact(null, [{ key: 'm.json', versionId: 'null' }])).deleted).toEqual([]);
  });
});
