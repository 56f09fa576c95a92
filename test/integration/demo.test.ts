import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/harness';

const repo = join(__dirname, '..', '..');
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** What README's first command runs, end to end: its own stack, three simulators, three exports. */
describe('npm run demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'callvault-demo-'));
  const database = uniqueName('callvault_demo').replace(/-/g, '_');

  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  function demo(): Promise<{ code: number | null; out: string }> {
    const child = spawn(process.execPath, [join(repo, 'dist/src/cli/main.js'), 'demo', '--no-keep-running', '--data-dir', dataDir, '--database-name', database], {
      env: { ...process.env, DATABASE_URL: serverUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
  }

  it('exports from all three simulators, then finds everything stored on a second run', async () => {
    const first = await demo();
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain('callvault demo: done');
    for (const connection of ['bird-demo', 'dixa-demo', 'kore-demo']) {
      const line = first.out.split('\n').find((l) => l.trim().startsWith(connection) && l.includes('transferred ('));
      expect(line, connection).toMatch(/ [1-9]\d* transferred .* 0 already stored/);
    }
    expect(first.out).toMatch(/Temporal Web UI\s+http:\/\/127\.0\.0\.1:\d+/);

    const second = await demo();
    expect(second.code, second.out).toBe(0);
    for (const connection of ['bird-demo', 'dixa-demo', 'kore-demo']) {
      const line = second.out.split('\n').find((l) => l.trim().startsWith(connection) && l.includes('transferred ('));
      expect(line, connection).toMatch(/ 0 transferred \(0 B\), [1-9]\d* already stored/);
    }
    // Everything it started stopped with it.
    const leftovers = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(dataDir) && !line.includes('ps -eo'));
    expect(leftovers).toEqual([]);
  });
});
