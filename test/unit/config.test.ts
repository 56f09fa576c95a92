import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load';
import { resolveSecret } from '../../src/config/secrets';
import { transferActivitiesPerSecond, transferBatchSize } from '../../src/providers/registry';
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

    it("keeps 16 under Bird's published limit, so the queue still starts 1.25 batches a second", () => {
      const conn = bird({});
      expect(transferBatchSize(conn)).toBe(16);
      expect(transferActivitiesPerSecond(conn)).toBe(40 / (2 * 16));
    });

    it('grows with a raised quota, up to 64', () => {
      expect(transferBatchSize(bird({ rateLimit: { transferPerSecond: 100 } }))).toBe(40);
      expect(transferBatchSize(bird({ rateLimit: { transferPerSecond: 100_000 } }))).toBe(64);
    });

    it('never goes below 16 on its own, and a configured batch size wins', () => {
      expect(transferBatchSize(bird({ rateLimit: { transferPerSecond: 1 } }))).toBe(16);
      const conn = bird({ batchSize: 4, rateLimit: { transferPerSecond: 100_000 } });
      expect(transferBatchSize(conn)).toBe(4);
      expect(transferActivitiesPerSecond(conn)).toBe(100_000 / (2 * 4));
    });
  });

  it('names the file and the field of each problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-config-'));
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ ...valid, connections: { 'bird-eu': { provider: 'bird', workspaceId: 'ws', accessKey: 'plain-text-secret' } } }));
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
    const config = loadConfig({ path, env: { TEMPORAL_ADDRESS: 'temporal:7233', DATABASE_URL: 'postgres://x/y', S3_ENDPOINT: 'http://s3:8333' } });
    expect(config.temporal.address).toBe('temporal:7233');
    expect(config.database.url).toBe('postgres://x/y');
    expect(config.storage.endpoint).toBe('http://s3:8333');
  });

  it('resolves secrets from the environment or a file, and names what is missing', () => {
    expect(resolveSecret({ env: 'K' }, 'connections.x.accessKey', { K: 'v' })).toBe('v');
    expect(() => resolveSecret({ env: 'K' }, 'connections.x.accessKey', {})).toThrow(/connections\.x\.accessKey: environment variable K is not set/);
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
