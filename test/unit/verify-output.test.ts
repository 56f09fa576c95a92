import { describe, expect, it } from 'vitest';
import type { Adoption, VerifyProblem } from '../../src/verify/findings';
import { jsonReport, problemLine, summaryLine } from '../../src/verify/output';
import { mapLimit, pagesOf } from '../../src/verify/parallel';
import { resolveTargets, UnknownTargetError } from '../../src/verify/targets';
import type { VerifySummary } from '../../src/verify/verify';

const summary: VerifySummary = { connections: 2, checked: 296, bytes: 3 * 1024 * 1024, listed: 299, orphans: 3, adopted: 2, problems: 1 };
const orphan: VerifyProblem = {
  kind: 'orphan',
  connection: 'bird-eu',
  key: 'exports/bird/bird-eu/x.mp3',
  sourceId: null,
  problem: 'object without a stored row; no manifest entry',
};
const adoption: Adoption = { connection: 'bird-eu', key: 'k', sourceId: 's', manifestKey: 'm', replacedFailedRow: true };

describe('verify output', () => {
  it('ends with a summary line in the shape scripts match', () => {
    expect(summaryLine(summary)).toBe(
      'verified 296 objects in 2 connections (3.0 MiB), listed 299 in the bucket, 3 without a row, 2 adopted: 1 problems',
    );
    expect(summaryLine({ ...summary, connections: 1, listed: null, problems: 0 })).toMatch(
      /^verified 296 objects in 1 connection \(.+\), bucket not listed, 3 without a row, 2 adopted: 0 problems$/,
    );
  });

  it('prints a line per finding, named by its kind', () => {
    expect(problemLine(orphan)).toBe('ORPHAN exports/bird/bird-eu/x.mp3: object without a stored row; no manifest entry');
    expect(problemLine({ ...orphan, kind: 'row', sourceId: 'rec-1', problem: 'object missing' })).toBe(
      'MISMATCH exports/bird/bird-eu/x.mp3 (source rec-1): object missing',
    );
  });

  it.each([0, 1, 3])('writes --json as one document, streamed, with %i findings', (n) => {
    let text = '';
    const report = jsonReport((t) => (text += t));
    for (let i = 0; i < n; i++) {
      if (i % 2) report.adopted(adoption);
      else report.problem(orphan);
    }
    report.end(summary);
    const parsed = JSON.parse(text) as { findings: Array<{ kind: string }>; summary: VerifySummary };
    expect(parsed.findings).toHaveLength(n);
    expect(parsed.findings.map((f) => f.kind)).toEqual(Array.from({ length: n }, (_, i) => (i % 2 ? 'adopted' : 'orphan')));
    expect(parsed.summary).toEqual(summary);
  });
});

describe('what verify walks', () => {
  const exports = new Map([
    ['export:bird-eu:a:b', { connection: 'bird-eu', provider: 'bird' }],
    ['export:gone:a:b', { connection: 'gone', provider: null }],
  ]);
  const provenance = {
    exportConnection: async (id: string) => exports.get(id) ?? null,
    connectionProvider: async (name: string) => (name === 'kore-old' ? 'kore' : null),
  };
  const connections = { 'bird-eu': { provider: 'bird' }, 'dixa-eu': { provider: 'dixa' } };

  it('is every configured connection by default, or the one named', async () => {
    expect(await resolveTargets(provenance, { connections })).toEqual([
      { connection: 'bird-eu', provider: 'bird' },
      { connection: 'dixa-eu', provider: 'dixa' },
    ]);
    expect(await resolveTargets(provenance, { connections, connection: 'dixa-eu' })).toEqual([{ connection: 'dixa-eu', provider: 'dixa' }]);
  });

  it.each(['nope', 'constructor', '__proto__', 'toString'])(
    'refuses the unknown connection %j, naming it and the configured ones',
    async (name) => {
      await expect(resolveTargets(provenance, { connections, connection: name })).rejects.toThrow(
        new UnknownTargetError(`unknown connection '${name}' (configured: bird-eu, dixa-eu)`),
      );
    },
  );

  it('is the connection of the export named, or a clear error', async () => {
    expect(await resolveTargets(provenance, { connections, workflowId: 'export:bird-eu:a:b' })).toEqual([
      { connection: 'bird-eu', provider: 'bird', workflowId: 'export:bird-eu:a:b' },
    ]);
    // An export that failed before it knew its provider, of a connection no longer configured: rows only.
    expect(await resolveTargets(provenance, { connections, workflowId: 'export:gone:a:b' })).toEqual([
      { connection: 'gone', provider: null, workflowId: 'export:gone:a:b' },
    ]);
    await expect(resolveTargets(provenance, { connections, workflowId: 'nope' })).rejects.toThrow(/^unknown export 'nope'/);
    await expect(resolveTargets(provenance, { connections, connection: 'dixa-eu', workflowId: 'export:bird-eu:a:b' })).rejects.toThrow(
      "export 'export:bird-eu:a:b' belongs to connection 'bird-eu', not 'dixa-eu'",
    );
  });

  it("learns a connection's provider from provenance when there is no configuration", async () => {
    expect(await resolveTargets(provenance, { connection: 'kore-old' })).toEqual([{ connection: 'kore-old', provider: 'kore' }]);
    await expect(resolveTargets(provenance, { connection: 'nope' })).rejects.toBeInstanceOf(UnknownTargetError);
    await expect(resolveTargets(provenance, {})).rejects.toBeInstanceOf(UnknownTargetError);
  });
});

describe('bounded concurrency', () => {
  it('runs at most `limit` at once and keeps the order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit(
      Array.from({ length: 20 }, (_, i) => i),
      4,
      async (i) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, (i * 7) % 5));
        running--;
        return i * 2;
      },
    );
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(peak).toBe(4);
  });

  it('pages an async sequence', async () => {
    async function* numbers() {
      for (let i = 0; i < 7; i++) yield i;
    }
    const pages: number[][] = [];
    for await (const p of pagesOf(numbers(), 3)) pages.push(p);
    expect(pages).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });
});
