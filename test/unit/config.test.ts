import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionByName, loadConfig, parseConfig, splitDatabasePassword } from '../../src/config/load';
import { resolveSecret } from '../../src/secrets';
import { transferActivitiesPerSecond, transferBatchSize, transferStartsAreScarce } from '../../src/providers/registry';
import { parseRetryAfter } from '../../src/errors';

const valid = {
  storage: { bucket: 'callvault-test' },
  connections: { 'bird-eu': { provider: 'bird', workspaceId: 'ws', accessKey: { env: 'BIRD_KEY' } } },
};

describe('configuration', () => {
  it('fills defaults and names each connection', () => {
    const config = parseConfig(valid);
    expect(config.connections['bird-eu']).toMatchObject({ name: 'bird-eu', baseUrl: 'https://api.bird.com' });
    expect(config.temporal.taskQueue).toBe('callvault');
  });

  describe('files per transfer activity', () => {
    const bird = (extra: Record<string, unknown>) =>
      parseConfig({ ...valid, connections: { 'bird-eu': { ...valid.connections['bird-eu'], ...extra } } }).connections['bird-eu']!;

    it("takes 32 under Bird's published limit (one API request per file), so the queue still starts 1.25 batches a second", () => {
      const conn = bird({});
      expect(transferBatchSize(conn)).toBe(32);
      expect(transferActivitiesPerSecond(conn)).toBe(40 / (1 * 32));
    });

    it('grows with a raised quota, up to 64', () => {
      expect(transferBatchSize(bird({ rateLimit: { transferPerSecond: 50 } }))).toBe(40);
      expect(transferBatchSize(bird({ rateLimit: { transferPerSecond: 100_000 } }))).toBe(64);
    });

    it('never goes below 16 on its own, and a configured batch size wins', () => {
      expect(transferBatchSize(bird({ rateLimit: { transferPerSecond: 1 } }))).toBe(16);
      const conn = bird({ batchSize: 4, rateLimit: { transferPerSecond: 100_000 } });
      expect(transferBatchSize(conn)).toBe(4);
      expect(transferActivitiesPerSecond(conn)).toBe(100_000 / (1 * 4));
    });

    it('asks for full batches while listing under a published limit, and not once the limit is lifted', () => {
      expect(transferStartsAreScarce(bird({}))).toBe(true);
      expect(transferStartsAreScarce(bird({ rateLimit: { transferPerSecond: 100_000 } }))).toBe(false);
    });
  });

  it('names the file and the field of each problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-config-'));
    const path = join(dir, 'bad.json');
    writeFileSync(
      path,
      JSON.stringify({ ...valid, connections: { 'bird-eu': { provider: 'bird', workspaceId: 'ws', accessKey: 'plain-text-secret' } } }),
    );
    expect(() => loadConfig({ path, env: {} })).toThrow(new RegExp(`${path}[\\s\\S]*connections\\.bird-eu\\.accessKey`));
  });

  it('says so when the file is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-config-'));
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "storage": ');
    expect(() => loadConfig({ path, env: {} })).toThrow(/broken\.json is not valid JSON/);
  });

  it('lets the environment override deployment settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-config-'));
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(valid));
    const config = loadConfig({
      path,
      env: { TEMPORAL_ADDRESS: 'temporal:7233', DATABASE_URL: 'postgres://x/y', S3_ENDPOINT: 'http://s3:8333' },
    });
    expect(config.temporal.address).toBe('temporal:7233');
    expect(config.database.url).toBe('postgres://x/y');
    expect(config.storage.endpoint).toBe('http://s3:8333');
  });

  it('resolves secrets from the environment or a file, and names what is missing', () => {
    expect(resolveSecret({ env: 'K' }, 'connections.x.accessKey', { K: 'v' })).toBe('v');
    expect(() => resolveSecret({ env: 'K' }, 'connections.x.accessKey', {})).toThrow(
      /connections\.x\.accessKey: environment variable K is not set/,
    );
    expect(() => resolveSecret({ file: '/nonexistent/secret' }, 'f', {})).toThrow(/cannot read secret file \/nonexistent\/secret/);
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('strict configuration (issue 11)', () => {
  const bird = valid.connections['bird-eu'];
  const withBird = (extra: Record<string, unknown>) => ({ ...valid, connections: { 'bird-eu': { ...bird, ...extra } } });
  const problem = (raw: unknown): string => {
    try {
      parseConfig(raw);
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };

  it('refuses a literal secret, saying how to reference it and never quoting it', () => {
    const message = problem(withBird({ accessKey: 'sk_live_abcdef123456' }));
    expect(message).toMatch(
      /connections\.bird-eu\.accessKey: a secret written into the configuration is refused; reference it as \{ "env": "NAME" \}.* or \{ "file": "\/path" \}/,
    );
    expect(message).not.toContain('sk_live');
    expect(problem({ ...valid, storage: { ...valid.storage, secretAccessKey: 'abc' } })).toMatch(
      /storage\.secretAccessKey: a secret written/,
    );
    expect(problem(withBird({ accessKey: { value: 'x' } }))).toMatch(/accessKey: expected exactly one of "env" and "file"/);
    expect(problem(withBird({ accessKey: { env: 'A B' } }))).toMatch(/accessKey: env: expected an environment variable name/);
    expect(problem(withBird({ accessKey: { file: 'relative/path' } }))).toMatch(/accessKey: file: expected an absolute path/);
  });

  it.each([
    ['file:///etc/passwd', /baseUrl: only http and https URLs are allowed, got file:/],
    ['javascript:alert(1)', /baseUrl: only http and https URLs are allowed, got javascript:/],
    ['ftp://api.bird.com', /baseUrl: only http and https URLs are allowed/],
    [
      'https://user:pass@api.bird.com',
      /baseUrl: credentials in the URL are refused: the connection's secret goes in accessKey: reference it as \{ "env"/,
    ],
    ['https://api.bird.com/?token=abc', /baseUrl: a base URL has no query string/],
    ['http://169.254.169.254', /baseUrl: 169\.254\.169\.254 is link-local, where a cloud metadata service answers: refused/],
    ['http://2852039166/', /baseUrl: 169\.254\.169\.254 is link-local/],
    ['http://[::ffff:169.254.169.254]/', /baseUrl: \[::ffff:a9fe:a9fe\] is link-local/],
    ['http://100.100.100.200/', /baseUrl: 100\.100\.100\.200 is a cloud metadata service: refused/],
    ['http://metadata.google.internal/', /baseUrl: metadata\.google\.internal is a cloud metadata service: refused/],
    ['http://[fd00:ec2::254]/', /baseUrl: \[fd00:ec2::254\] is a cloud metadata service: refused/],
    ['http://[fe80::1]/', /baseUrl: \[fe80::1\] is link-local: refused/],
    ['http://127.0.0.1:9000', /baseUrl: 127\.0\.0\.1 is loopback; set "allowPrivateNetwork": true on the connection/],
    ['http://10.1.2.3', /baseUrl: 10\.1\.2\.3 is a private network; set "allowPrivateNetwork": true/],
    ['http://localhost:8080', /baseUrl: localhost is loopback; set "allowPrivateNetwork"/],
  ])('refuses the base URL %s, naming the field', (baseUrl, message) => {
    expect(problem(withBird({ baseUrl }))).toMatch(message);
  });

  it('lets a connection reach private networks only when it says so, and metadata never', () => {
    expect(
      parseConfig(withBird({ baseUrl: 'http://127.0.0.1:9000', mediaHosts: ['127.0.0.1:9001'], allowPrivateNetwork: true })).connections[
        'bird-eu'
      ]!.allowPrivateNetwork,
    ).toBe(true);
    expect(problem(withBird({ baseUrl: 'http://169.254.169.254', allowPrivateNetwork: true }))).toMatch(/169\.254\.169\.254 is link-local/);
    expect(problem(withBird({ mediaHosts: ['127.0.0.1:9001'] }))).toMatch(
      /mediaHosts\.0: 127\.0\.0\.1 is loopback; set "allowPrivateNetwork"/,
    );
    expect(problem(withBird({ mediaHosts: ['*.google.internal'], allowPrivateNetwork: true }))).toMatch(
      /mediaHosts\.0: \*\.google\.internal covers metadata\.google\.internal/,
    );
    expect(problem(withBird({ mediaHosts: ['*.com'] }))).toMatch(/mediaHosts\.0: \*\.com admits every host under \.com/);
    expect(
      problem({ ...valid, connections: { d: { provider: 'dixa', apiToken: { env: 'T' }, filesBaseUrl: 'https://u:p@files.dixa.io' } } }),
    ).toMatch(/connections\.d\.filesBaseUrl: credentials in the URL are refused: the connection's secret goes in apiToken/);
  });

  it('refuses credentials and link-local addresses in the S3 endpoint, and a password in database.url', () => {
    expect(problem({ ...valid, storage: { ...valid.storage, endpoint: 'http://key:secret@s3.internal:8333' } })).toMatch(
      /storage\.endpoint: credentials in the URL are refused: S3 keys go in storage\.accessKeyId and storage\.secretAccessKey/,
    );
    expect(problem({ ...valid, storage: { ...valid.storage, endpoint: 'http://169.254.169.254' } })).toMatch(
      /storage\.endpoint: 169\.254\.169\.254 is link-local/,
    );
    expect(parseConfig({ ...valid, storage: { ...valid.storage, endpoint: 'http://127.0.0.1:8333' } }).storage.endpoint).toBe(
      'http://127.0.0.1:8333',
    );
    expect(problem({ ...valid, database: { url: 'postgres://callvault:hunter2@db:5432/cv' } })).toMatch(
      /database\.url: a password in the URL is refused; give it to the worker as PGPASSWORD/,
    );
    expect(problem({ ...valid, database: { url: 'postgres://db/cv?password=hunter2' } })).toMatch(
      /database\.url: a password in the URL is refused/,
    );
    expect(problem({ ...valid, database: { url: 'mysql://db/cv' } })).toMatch(
      /database\.url: expected a postgres:\/\/ or postgresql:\/\/ URL/,
    );
  });

  it.each(['../../etc', '/', '', 'a//b', '/a', 'a/', 'a/./b', '.hidden', 'a b'])('refuses the storage prefix %j', (prefix) => {
    expect(problem({ ...valid, storage: { ...valid.storage, prefix } })).toMatch(/storage\.prefix: segments of letters/);
  });

  it('refuses prototype names as connections instead of dropping them, and looks names up as own keys', () => {
    const raw = JSON.parse(`{"storage":{"bucket":"callvault-test"},"connections":{"__proto__":${JSON.stringify(bird)}}}`) as unknown;
    expect(problem(raw)).toMatch(/connections\.__proto__: use 1-63 lowercase letters/);
    expect(problem({ ...valid, connections: { toString: bird } })).toMatch(/connections\.toString: use 1-63 lowercase/);
    const config = parseConfig(valid);
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(() => connectionByName(config, name)).toThrow(
        new RegExp(`connection: unknown connection '${name.replace(/\$/g, '\\$')}' \\(configured on this worker: bird-eu\\)`),
      );
    }
  });

  it('refuses a bad Temporal address, task queue or region, naming the field and the variable that set it', () => {
    expect(problem({ ...valid, temporal: { address: 'http://temporal:7233' } })).toMatch(/temporal\.address: expected host:port/);
    expect(problem({ ...valid, temporal: { address: 'temporal:99999' } })).toMatch(/temporal\.address: expected host:port/);
    expect(problem({ ...valid, storage: { ...valid.storage, region: 'evil.com#' } })).toMatch(/storage\.region: an S3 region/);
    const dir = mkdtempSync(join(tmpdir(), 'cv-config-'));
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(valid));
    expect(() => loadConfig({ path, env: { TEMPORAL_ADDRESS: 'nope' } })).toThrow(
      /temporal\.address \(from \$TEMPORAL_ADDRESS\): expected host:port/,
    );
    expect(() => loadConfig({ path, env: { CALLVAULT_TASK_QUEUE: 'a b' } })).toThrow(/temporal\.taskQueue \(from \$CALLVAULT_TASK_QUEUE\)/);
    expect(loadConfig({ path, env: { DATABASE_URL: 'postgres://u:pw@db/cv' } }).database.url).toBe('postgres://u:pw@db/cv');
    expect(() => loadConfig({ path, env: { DATABASE_URL: 'nope' } })).toThrow(/DATABASE_URL: expected a URL/);
  });

  it('accepts a file that starts with a byte order mark', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-config-'));
    const path = join(dir, 'bom.json');
    writeFileSync(path, `\uFEFF${JSON.stringify(valid)}`);
    expect(loadConfig({ path, env: {} }).connections['bird-eu']!.name).toBe('bird-eu');
  });

  it('escapes what a hostile key would put into the message', () => {
    const message = problem({ ...valid, storage: { ...valid.storage, ['x\u0000\n'.repeat(50)]: 1 } });
    expect(message).not.toMatch(/[\u0000]/);
    expect(message.split('\n').length).toBeLessThan(5);
  });
});

describe('database passwords for tools that write a configuration', () => {
  it('move out of the URL into PGPASSWORD, decoded', () => {
    expect(splitDatabasePassword('postgres://u:p%40ss@db:5432/cv')).toEqual({
      url: 'postgres://u@db:5432/cv',
      env: { PGPASSWORD: 'p@ss' },
    });
    expect(splitDatabasePassword('postgres://u@db/cv')).toEqual({ url: 'postgres://u@db/cv', env: {} });
    expect(parseConfig({ ...valid, database: { url: splitDatabasePassword('postgres://u:pw@db/cv').url } }).database.url).toBe(
      'postgres://u@db/cv',
    );
  });
});
