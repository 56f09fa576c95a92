import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cronArg, durationArg, instantArg, scheduleIdArg, textArg, wholeNumberArg } from '../../src/cli/args';
import { EVERY_BOUNDS } from '../../src/contracts/durations';

const cli = join(__dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');

/** A port nothing listens on: taken from the kernel, then given back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('the CLI refuses what does not exist, naming it, and exits non-zero (issue 11)', () => {
  let config: string;

  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\``);
    config = join(mkdtempSync(join(tmpdir(), 'cv-cli-')), 'callvault.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        temporal: { address: `127.0.0.1:${await closedPort()}` },
        storage: { bucket: 'cli-test' },
        connections: { 'bird-eu': { provider: 'bird', workspaceId: 'ws', accessKey: { env: 'K' } } },
      }),
    );
  });

  const run = (...args: string[]) => {
    const res = spawnSync(process.execPath, [cli, '--config', config, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, USER: 'tester' },
    });
    return { status: res.status, out: `${res.stdout}${res.stderr}` };
  };
  const window = ['--from', '2026-01-01', '--to', '2026-01-02'];

  it.each([
    [
      ['export', 'start', '--no-wait', '--connection', 'nope', ...window],
      /connection: unknown connection 'nope' \(configured on this worker: bird-eu\)/,
    ],
    [['export', 'start', '--no-wait', '--connection', 'constructor', ...window], /connection: unknown connection 'constructor'/],
    [
      ['export', 'start', '--no-wait', '--connection', '__proto__', ...window],
      /option '--connection <name>' argument '__proto__' is invalid\. use 1-63 lowercase/,
    ],
    [
      ['export', 'start', '--connection', 'bird-eu', '--from', '2026-02-31', '--to', '2026-03-01'],
      /option '--from <date>' argument '2026-02-31' is invalid\. 2026-02-31 is not a date in the calendar/,
    ],
    [
      ['export', 'start', '--connection', 'bird-eu', '--from', '0000-01-01', '--to', '2026-03-01'],
      /'--from <date>' argument '0000-01-01' is invalid\. expected a date from 2000-01-01/,
    ],
    [
      ['export', 'start', '--connection', 'bird-eu', ...window, '--heartbeat-timeout', '0x10'],
      /'--heartbeat-timeout <seconds>' argument '0x10' is invalid\. expected a whole number in plain decimal digits, from 2 to 3600/,
    ],
    [
      ['export', 'start', '--connection', 'bird-eu', ...window, '--max-in-flight', '1e3'],
      /'--max-in-flight <n>' argument '1e3' is invalid/,
    ],
    [
      ['export', 'start', '--connection', 'bird-eu', ...window, '--by', 'a\u0007b'],
      /'--by <who>' argument .* is invalid\. control characters/,
    ],
    [['retention', 'sweep', '--connection', 'nope'], /connection: unknown connection 'nope'/],
    [
      ['retention', 'sweep', '--now', '2026-02-30'],
      /'--now <date-time>' argument '2026-02-30' is invalid\. 2026-02-30 is not a date in the calendar/,
    ],
    [['retention', 'sweep', '--lookback-days', '0x10'], /'--lookback-days <n>' argument '0x10' is invalid/],
    [
      ['schedule', 'create', '--connection', 'bird-eu', '--every', '100000d'],
      /'--every <duration>' argument '100000d' is invalid\. expected 10s to 366d, got 100000d/,
    ],
    [
      ['schedule', 'create', '--connection', 'bird-eu', '--every', '1d', '--delay', '3650d'],
      /'--delay <duration>' argument '3650d' is invalid\. expected 0s to 30d/,
    ],
    [
      ['schedule', 'create', '--connection', 'bird-eu', '--cron', '0 3 31 2 *'],
      /'--cron <expression>' argument '0 3 31 2 \*' is invalid\. '0 3 31 2 \*' does not fire in every year/,
    ],
    [
      ['schedule', 'create', '--connection', 'bird-eu', '--every', '1d', '--id', 'my schedule/../x'],
      /'--id <scheduleId>' argument 'my schedule\/\.\.\/x' is invalid/,
    ],
    [['schedule', 'describe', '../etc'], /value '\.\.\/etc' is invalid for argument 'schedule'\. use 1-200 letters/],
    [['schedule', 'backfill', 'bird-eu', '--from', '2026-02-30', '--to', '2026-03-02'], /'--from <date>' argument '2026-02-30' is invalid/],
    [
      ['export', 'status', 'export:bird-eu:x', '--connection', 'bird-eu', ...window],
      /give a workflow id or --connection, --from and --to, not both/,
    ],
    [
      ['export', 'failures', '--connection', 'bird-eu', '--from', '2026-01-01'],
      /give the export's workflow id, or --connection, --from and --to/,
    ],
    [
      ['export', 'cancel', '--connection', 'bird-eu', '--from', '2026-01-02', '--to', '2026-01-01'],
      /callvault: to: must be later than from/,
    ],
    [
      ['erase', '--connection', 'bird-eu', '--by', 'dpo', '--reason', 'GDPR 7'],
      /callvault: --conversation: name the files: --conversation, --source-id, or a window \(--from and --to\)/,
    ],
    [['erase', '--connection', 'nope', '--source-id', 'r1', '--by', 'dpo', '--reason', 'GDPR 7'], /connection: unknown connection 'nope'/],
    [['erase', '--connection', 'bird-eu', '--source-id', 'r1', '--by', 'dpo'], /required option '--reason <why>' not specified/],
    [
      ['erase', '--connection', 'bird-eu', '--source-id', 'r1', '--by', 'dpo', '--reason', 'a\u0007b'],
      /'--reason <why>' argument .* is invalid\. control characters/,
    ],
    [
      ['hold', 'set', '--connection', 'bird-eu', '--conversation', 'c1', '--source-id', 'r1', '--by', 'legal', '--reason', 'case'],
      /--conversation, --source-id: give one of/,
    ],
    [
      ['hold', 'release', '--connection', 'bird-eu', '--from', '2026-03-01', '--by', 'legal', '--reason', 'case'],
      /--to: a window needs both --from and --to/,
    ],
    [['hold', 'set', '--connection', 'bird-eu', '--source-id', 'r1', '--reason', 'case'], /required option '--by <who>' not specified/],
    [
      ['export', 'list', '--status', 'stuck'],
      /option '--status <status>' argument 'stuck' is invalid\. Allowed choices are running, completed, failed, cancelled/,
    ],
  ])('callvault %j', (args, message) => {
    const { status, out } = run(...args);
    expect(out).toMatch(message);
    expect(status).toBe(1);
  });

  it('names the Temporal address it could not reach', () => {
    const { status, out } = run('export', 'status', 'export:bird-eu:x');
    expect(out).toMatch(
      /callvault: temporal\.address: cannot connect to Temporal at 127\.0\.0\.1:\d+ \(.+\); check the address \(or TEMPORAL_ADDRESS\)/,
    );
    expect(status).toBe(1);
  });
});

describe('the built CLI as an executable (issue 13)', () => {
  it('says CLI, not worker, when a command lacks a secret the configuration names', () => {
    const config = join(mkdtempSync(join(tmpdir(), 'cv-secret-')), 'callvault.config.json');
    const storage = { bucket: 'cli-test', accessKeyId: { env: 'CV_MISSING_KEY' }, secretAccessKey: { env: 'CV_MISSING_SECRET' } };
    writeFileSync(
      config,
      JSON.stringify({ storage, connections: { 'bird-eu': { provider: 'bird', workspaceId: 'ws', accessKey: { env: 'K' } } } }),
    );
    const res = spawnSync(process.execPath, [cli, '--config', config, 'verify'], { encoding: 'utf8', timeout: 30_000 });
    expect(res.stderr).toContain('storage.accessKeyId: environment variable CV_MISSING_KEY is not set for this CLI');
    expect(res.status).toBe(1);
  });

  it("is executable after the build and runs by its shebang, with the worker's Node flags", () => {
    expect(statSync(cli).mode & 0o111).toBe(0o111);
    expect(readFileSync(cli, 'utf8').split('\n')[0]).toBe(
      '#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=50 --expose-gc',
    );
    const res = spawnSync(cli, ['--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toContain('Usage: callvault');
  });

  it('runs `worker` under plain node with the flags anyway, passes signals on, and prints no AWS SDK notice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-flags-'));
    const config = join(dir, 'callvault.config.json');
    // Postgres on a port nobody listens on: the worker waits for it, saying so, and stays up.
    writeFileSync(
      config,
      JSON.stringify({
        database: { url: `postgres://u@127.0.0.1:${await closedPort()}/db` },
        storage: { bucket: 'cli-test' },
        connections: {},
      }),
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    delete env.MALLOC_ARENA_MAX;
    const parent = spawn(process.execPath, [cli, '--config', config, 'worker'], { env });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    parent.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => parent.once('exit', resolve));
    try {
      await expect.poll(() => out, { timeout: 20_000 }).toContain('waiting for Postgres');
      const child = execFileSync('ps', ['-o', 'pid=', '--ppid', String(parent.pid)], { encoding: 'utf8' }).trim();
      const cmdline = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toEqual(expect.arrayContaining(['--max-semi-space-size=2', '--heap-growing-percent=50', '--expose-gc', 'worker']));
      expect(readFileSync(`/proc/${child}/environ`, 'utf8').split('\0')).toContain('MALLOC_ARENA_MAX=2');
      parent.kill('SIGTERM');
      expect(await exited).not.toBeNull();
      expect(() => process.kill(Number(child), 0)).toThrow();
      expect(out).not.toContain('NodeVersionSupportWarning');
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('CLI argument parsers', () => {
  it('take whole numbers in plain decimal only', () => {
    const n = wholeNumberArg(0, 1000);
    expect(n('0')).toBe(0);
    expect(n('1000')).toBe(1000);
    for (const bad of ['0x10', '1e3', '+5', ' 5', '5 ', '05', '-1', '1.0', '', '1001', '１２', '99999999999'])
      expect(() => n(bad), bad).toThrow(/whole number/);
  });

  it("share the workflows' rules for dates, durations, cron, ids and text", () => {
    expect(instantArg('2028-02-29')).toBe('2028-02-29');
    expect(() => instantArg('2027-02-29')).toThrow(/not a date in the calendar/);
    expect(durationArg(EVERY_BOUNDS)('1h')).toBe('1h');
    expect(() => durationArg(EVERY_BOUNDS)('5s')).toThrow(/expected 10s to 366d, got 5s/);
    expect(() => cronArg('TZ=Europe/Paris 0 0 * * *')).toThrow(/time zones are not supported/);
    expect(() => scheduleIdArg('a b')).toThrow(/use 1-200 letters/);
    expect(() => textArg(10)('x'.repeat(11))).toThrow(/at most 10 characters/);
  });
});
