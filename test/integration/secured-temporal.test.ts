import { spawn } from 'node:child_process';
import { DEV_S3_CREDENTIALS } from '../../src/devstack/seaweed';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTemporal, type TemporalServer } from '../../src/devstack/temporal';
import { BirdSimulator } from '../../src/simulators/bird';
import { startApiKeyProxy, type ApiKeyProxy } from '../support/apiKeyProxy';
import { makeTestCertificates, type TestCertificates } from '../support/certificates';
import { exportEnv, uniqueName, type ExportEnv } from '../support/harness';
import { startTlsProxy, type TlsProxy } from '../support/tlsProxy';
import { birdConnection } from '../support/birdConnection';

const API_KEY = 'callvault-test-api-key-7f3e';
const DAY = 24 * 3600 * 1000;
const CLI = join(__dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');

/**
 * The worker and the CLI reach a secured Temporal with nothing but the standard environment
 * variables or a Temporal profile file, as every Temporal tool does: mutual TLS (through a
 * TLS-terminating proxy in front of a dev server of this test's own), and an API key (through a
 * proxy that checks it, as Temporal Cloud does). A full export runs through each. A wrong key and
 * a missing client certificate fail at once, saying what was tried and why.
 */
describe('a secured Temporal', () => {
  const connection = uniqueName('secured');
  const start = Date.parse('2026-07-01T00:00:00Z');
  const day = (n: number) => ({ from: new Date(start + n * DAY).toISOString(), to: new Date(start + (n + 1) * DAY).toISOString() });
  const recordings = BirdSimulator.generate({
    seed: connection,
    count: 6,
    from: day(0).from,
    to: day(2).from,
    size: { min: 2_000, max: 20_000 },
  });
  let dataDir: string;
  let temporal: TemporalServer;
  let certs: TestCertificates;
  let tls: TlsProxy;
  let mtls: TlsProxy;
  let keyed: ApiKeyProxy;
  let sim: BirdSimulator;
  let env: ExportEnv;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'callvault-secured-'));
    sim = new BirdSimulator({ seed: connection, recordings });
    certs = makeTestCertificates();
    [temporal] = await Promise.all([startTemporal({ dataDir, headless: true, dbFile: null }), sim.start()]);
    [tls, mtls, keyed] = await Promise.all([
      startTlsProxy({ upstream: temporal.address, certs, requireClientCert: false }),
      startTlsProxy({ upstream: temporal.address, certs, requireClientCert: true }),
      startApiKeyProxy({ upstream: temporal.address, apiKey: API_KEY, certs }),
    ]);
    // The configuration names the plaintext server (the test's own client uses it); workers and the CLI are pointed elsewhere by their environment only.
    env = await exportEnv({
      stack: { ...inject('stack'), temporalAddress: temporal.address },
      connections: {
        [connection]: birdConnection(sim),
      },
      secrets: { BIRD_KEY: sim.accessKey },
    });
  });

  afterAll(async () => {
    await env?.close();
    await Promise.all([tls?.close(), mtls?.close(), keyed?.close()]);
    await temporal?.stop();
    await sim?.stop();
    for (const dir of [dataDir, certs?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The compiled CLI with this environment on top of ours (and no TEMPORAL_* of the machine's). */
  function callvault(
    args: string[],
    extraEnv: Record<string, string>,
    timeoutMs = 60_000,
  ): Promise<{ code: number | null; out: string; ms: number }> {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
    const child = spawn(process.execPath, [CLI, '--config', env.configPath, ...args], {
      env: {
        ...base,
        S3_KEY: DEV_S3_CREDENTIALS.accessKeyId,
        S3_SECRET: DEV_S3_CREDENTIALS.secretAccessKey,
        BIRD_KEY: sim.accessKey,
        TEMPORAL_CONFIG_FILE: join(dataDir, 'no-profiles.toml'),
        ...extraEnv,
      },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const began = Date.now();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return new Promise((resolve) =>
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out, ms: Date.now() - began });
      }),
    );
  }

  /** A worker and the CLI's `export start`, both configured by `tlsEnv` alone; the export must complete. */
  async function exportThrough(tlsEnv: Record<string, string>, window: { from: string; to: string }): Promise<string> {
    const worker = await env.spawnWorker({ TEMPORAL_CONFIG_FILE: join(dataDir, 'no-profiles.toml'), ...tlsEnv });
    try {
      const cli = await callvault(['export', 'start', '--connection', connection, '--from', window.from, '--to', window.to], tlsEnv);
      expect(cli.out).toMatch(/export export:.* completed: 3 transferred/);
      expect(cli.code).toBe(0);
      return worker.log();
    } finally {
      await env.stopWorkers();
    }
  }

  it('runs an export with worker and CLI on mutual TLS, set by a Temporal profile file only', async () => {
    const profiles = join(dataDir, 'temporal.toml');
    writeFileSync(
      profiles,
      `[profile.mtls]\naddress = "${mtls.address}"\n[profile.mtls.tls]\nserver_ca_cert_path = "${certs.caCert}"\nclient_cert_path = "${certs.clientCert}"\nclient_key_path = "${certs.clientKey}"\n`,
    );
    const log = await exportThrough({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'mtls' }, day(0));
    expect(log).toContain(
      `connecting to Temporal: ${mtls.address} (from address of profile 'mtls' in ${profiles}), namespace default (from temporal.namespace), TLS with server CA tls.server_ca_cert_path`,
    );
    // Worker and CLI each came with the client certificate; no handshake was refused.
    expect(mtls.accepted.filter((cn) => cn === certs.clientName).length).toBeGreaterThanOrEqual(2);
    expect(mtls.refused).toEqual([]);
  });

  it('runs an export with worker and CLI on an API key over TLS, set by environment variables only, and never prints the key', async () => {
    const keyEnv = { TEMPORAL_ADDRESS: keyed.address, TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert };
    const log = await exportThrough(keyEnv, day(1));
    expect(log).toContain(`${keyed.address} (from $TEMPORAL_ADDRESS)`);
    expect(log).toContain('API key from $TEMPORAL_API_KEY');
    expect(log).not.toContain(API_KEY);
    expect(keyed.counts.allowed).toBeGreaterThan(10);
    expect(keyed.counts.denied).toBe(0);
  });

  it('lets the CLI work over server-authenticated TLS', async () => {
    const listed = await callvault(['schedule', 'list', '--json'], {
      TEMPORAL_ADDRESS: tls.address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
    });
    expect(listed.out).toMatch(/^\[\]$/m);
    expect(listed.code).toBe(0);
    expect(tls.accepted).toEqual(['none']);
  });

  it('fails a worker and the CLI at once on a wrong API key, naming the address, the settings and the refusal', async () => {
    const wrong = { TEMPORAL_ADDRESS: keyed.address, TEMPORAL_API_KEY: 'wrong-key-0451', TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert };
    const [worker, cli] = await Promise.all([callvault(['worker'], wrong), callvault(['export', 'status', 'export:x:y:z'], wrong)]);
    for (const run of [worker, cli]) {
      expect(run.out).toContain(`TEMPORAL_ADDRESS: cannot connect to Temporal at ${keyed.address}`);
      expect(run.out).toContain('invalid or missing API key');
      expect(run.out).toContain('the server refused the API key from $TEMPORAL_API_KEY');
      expect(run.out).toContain(`TLS with server CA $TEMPORAL_TLS_SERVER_CA_CERT_PATH (${certs.caCert})`);
      expect(run.out).not.toContain('wrong-key-0451');
      expect(run.code).toBe(1);
    }
    expect(worker.ms).toBeLessThan(15_000);
  });

  it('fails a worker at once and the CLI after its connect timeout without a client certificate, saying the server wants one; refuses a certificate without its key before connecting', async () => {
    const noCertEnv = { TEMPORAL_ADDRESS: mtls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert };
    // The CLI's client (grpc-js) waits out its 10 s connect timeout before it knows; then it asks the handshake why.
    const [worker, cli] = await Promise.all([callvault(['worker'], noCertEnv), callvault(['schedule', 'list'], noCertEnv)]);
    for (const run of [worker, cli]) {
      expect(run.out).toContain(`TEMPORAL_ADDRESS: cannot connect to Temporal at ${mtls.address}`);
      expect(run.out).toMatch(/certificate required|CertificateRequired/i);
      expect(run.out).toContain('the TLS handshake failed: check the server CA, the server name and the client certificate');
      expect(run.code).toBe(1);
    }
    expect(worker.ms).toBeLessThan(15_000);
    const halfPair = await callvault(['worker'], { TEMPORAL_ADDRESS: mtls.address, TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert });
    expect(halfPair.out).toContain(
      `TEMPORAL_TLS_CLIENT_CERT_PATH (${certs.clientCert}): a TLS client certificate without its key is refused`,
    );
    expect(halfPair.code).toBe(1);
  });
});
