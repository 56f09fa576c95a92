import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../src/worker/runtime';
import { typeLabel } from '../../src/client/searchAttributes';
import { CALLVAULT_SEARCH_ATTRIBUTES } from '../../src/contracts/searchAttributes';

const repo = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(repo, file), 'utf8');

describe('deployment files', () => {
  const example = JSON.parse(read('callvault.example.json')) as unknown;

  it('ships an example configuration the loader accepts, with retention policies', () => {
    const config = parseConfig(example, 'callvault.example.json');
    expect(Object.keys(config.connections).length).toBeGreaterThan(0);
    for (const conn of Object.values(config.connections)) expect(conn.retention?.keepDays, conn.name).toBeGreaterThan(0);
  });

  it('refuses a retention lead that is not shorter than what the platform keeps, naming the field', () => {
    const bird = { provider: 'bird', workspaceId: 'ws', accessKey: { env: 'K' } };
    expect(() =>
      parseConfig({ storage: { bucket: 'b-1' }, connections: { b: { ...bird, retention: { keepDays: 3, leadDays: 3 } } } }),
    ).toThrow(/connections\.b\.retention\.leadDays: must be smaller than keepDays/);
    expect(
      parseConfig({ storage: { bucket: 'b-1' }, connections: { b: { ...bird, retention: { keepDays: 30 } } } }).connections.b!.retention,
    ).toEqual({ keepDays: 30, leadDays: 3 });
  });

  it('passes every secret the example names to the compose worker, and the overrides the loader reads', () => {
    const compose = read('docker-compose.yml');
    const worker = compose.slice(compose.indexOf('\n  worker:'));
    const secrets = [...JSON.stringify(example).matchAll(/"env":"([A-Z0-9_]+)"/g)].map((m) => m[1]!);
    expect(secrets.length).toBeGreaterThan(0);
    for (const name of [...secrets, 'TEMPORAL_ADDRESS', 'DATABASE_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'CALLVAULT_CONFIG']) {
      expect(worker, name).toMatch(new RegExp(`\\n\\s+${name}:`));
    }
    expect(compose).toContain('TEMPORAL_START_WORKFLOW_DISABLED: "false"');
    // The exports' search attributes, each with its type: workers refuse to start without them.
    for (const sa of CALLVAULT_SEARCH_ATTRIBUTES) {
      expect(compose, sa.name).toMatch(
        new RegExp(`search-attribute create -n default (--name \\w+ )*--name ${sa.name} (--name \\w+ )*--type ${typeLabel(sa.type)}\n`),
      );
    }
    expect(compose).toContain('-master.telemetry=false');
  });

  it('builds the worker image with npm ci and npm run build, and runs it with the worker flags and environment', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toContain(
      `CMD ${JSON.stringify(['node', ...WORKER_NODE_FLAGS, 'dist/src/cli/main.js', 'worker']).replace(/","/g, '", "')}`,
    );
    for (const [name, value] of Object.entries(WORKER_ENV)) expect(dockerfile).toMatch(new RegExp(`^ENV .*\\b${name}=${value}\\b`, 'm'));
  });

  it('starts `npm run worker` and the CLI the way the image does', () => {
    const launch = `${Object.entries(WORKER_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} node ${WORKER_NODE_FLAGS.join(' ')}`;
    expect((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.worker).toBe(
      `${launch} dist/src/cli/main.js worker`,
    );
    expect(read('src/cli/main.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S ${launch}`);
  });

  it('passes `docker compose config` (Docker Compose v2, pinned in scripts/setup.sh)', () => {
    const compose = join(repo, '.tools', 'bin', 'docker-compose');
    const normalized = execFileSync(compose, ['-f', join(repo, 'docker-compose.yml'), 'config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    for (const service of ['postgres', 'temporal', 'temporal-ui', 'seaweedfs', 'worker'])
      expect(normalized, service).toMatch(new RegExp(`\n  ${service}:\n`));
    // A broken file must fail the same check, or the check proves nothing.
    const broken = join(mkdtempSync(join(tmpdir(), 'cv-compose-')), 'docker-compose.yml');
    writeFileSync(broken, read('docker-compose.yml').replace('services:', 'services:\n  bogus:\n    image: [not, a, string]'));
    expect(() => execFileSync(compose, ['-f', broken, 'config', '-q'], { stdio: 'pipe' })).toThrow();
  });
});
