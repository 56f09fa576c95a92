import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/harness';

const repo = join(__dirname, '..', '..');
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * What README's first command runs, end to end: its own stack, three simulators, three exports, a
 * dry run of the retention sweep. Kept running, every CLI command it prints runs as printed (with
 * the secrets it wrote to files); without a terminal or --keep-running it prints no address of a
 * server it has stopped. A second run finds everything stored.
 */
describe('npm run demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'callvault-demo-'));
  const database = uniqueName('callvault_demo').replace(/-/g, '_');
  let running: ChildProcess | undefined;

  afterAll(async () => {
    running?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  function demo(keepRunning: boolean): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const child = spawn(
      process.execPath,
      [
        join(repo, 'dist/src/cli/main.js'),
        'demo',
        keepRunning ? '--keep-running' : '--no-keep-running',
        '--data-dir',
        dataDir,
        '--database-name',
        database,
      ],
      {
        env: { ...process.env, DATABASE_URL: serverUrl },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return { child, output: () => out, exited: new Promise((resolve) => child.once('exit', resolve)) };
  }

  const exportLine = (out: string, connection: string) =>
    out.split('\n').find((l) => l.trim().startsWith(connection) && l.includes('transferred ('));

  it('exports from all three simulators; while it runs, the commands it prints work as printed', async () => {
    const first = demo(true);
    running = first.child;
    await expect.poll(first.output, { timeout: 240_000, interval: 500 }).toContain('Press Ctrl-C to stop it');
    const out = first.output();
    for (const connection of ['bird-demo', 'dixa-demo', 'kore-demo'])
      expect(exportLine(out, connection), connection).toMatch(/ [1-9]\d* transferred .* 0 already stored/);
    expect(out).toMatch(/Temporal Web UI\s+http:\/\/127\.0\.0\.1:\d+/);
    // The retention policy the demo configures: its window's days covered, the three after it due.
    expect(out).toMatch(/9 would start, 0 already running, 24 covered, 0 at risk/);

    const printed = out
      .split('\n')
      .filter((l) => /^\s+env .*node .*main\.js --config /.test(l))
      .map((l) => l.trim());
    expect(printed.map((c) => c.replace(/.* --config \S+ /, ''))).toEqual([
      'export list',
      'export failures --connection bird-demo --from 2026-01-05 --to 2026-01-13',
      'verify',
      'retention sweep --dry-run',
    ]);
    const runPrinted = (command: string) => {
      try {
        return {
          code: 0,
          out: execFileSync('sh', ['-c', `${command} 2>&1`], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: serverUrl } }),
        };
      } catch (err) {
        const e = err as { status: number; stdout: string };
        return { code: e.status, out: e.stdout };
      }
    };
    const verify = runPrinted(printed[2]!);
    expect(verify, verify.out).toMatchObject({ code: 0 });
    expect(verify.out).toMatch(/verified \d+ objects in 3 connections .*: 0 problems/);
    expect(runPrinted(printed[3]!).out).toContain('9 would start, 0 already running, 24 covered, 0 at risk');
    const failures = runPrinted(printed[1]!);
    expect(failures.code).toBe(3);
    expect(failures.out).toMatch(/provider_final_status\t.*Bird reports status 'absent'/);

    // Its secrets are files only their owner reads, and the configuration names them.
    const secrets = join(dataDir, 'secrets');
    for (const f of readdirSync(secrets)) expect(statSync(join(secrets, f)).mode & 0o077, f).toBe(0);
    expect(readFileSync(join(dataDir, 'callvault.config.json'), 'utf8')).not.toMatch(/"env"/);

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(130);
    running = undefined;
  });

  it('finds everything stored on a second run, and without a terminal prints no address of a stopped server', async () => {
    const second = demo(false);
    expect(await second.exited, second.output()).toBe(0);
    const out = second.output();
    for (const connection of ['bird-demo', 'dixa-demo', 'kore-demo'])
      expect(exportLine(out, connection), connection).toMatch(/ 0 transferred \(0 B\), [1-9]\d* already stored/);
    expect(out).toContain('The stack has stopped');
    expect(out).not.toMatch(/http:\/\/127\.0\.0\.1/);
    // Everything it started stopped with it.
    const leftovers = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(dataDir) && !line.includes('ps -eo'));
    expect(leftovers).toEqual([]);
  });
});
