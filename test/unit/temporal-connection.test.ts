import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { connectionFailure, isTemporalRefusal, resolveTemporalTarget } from '../../src/client/temporalConnection';

const dir = mkdtempSync(join(tmpdir(), 'cv-temporal-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const CA = file('ca.pem', 'CA PEM');
const CERT = file('client.pem', 'CLIENT CERT PEM');
const KEY = file('client.key', 'CLIENT KEY PEM');
const PROFILES = file(
  'temporal.toml',
  `[profile.default]
address = "default.example:7233"

[profile.mtls]
address = "secure.example:7233"
namespace = "exports"
[profile.mtls.tls]
server_ca_cert_path = "${CA}"
client_cert_path = "${CERT}"
client_key_path = "${KEY}"
server_name = "temporal.example"

[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
api_key = "profile-key-123"

[profile.half]
address = "half.example:7233"
[profile.half.tls]
client_cert_path = "${CERT}"
`,
);

const config = (temporal: Record<string, unknown> = {}) => parseConfig({ temporal, storage: { bucket: 'b-1' }, connections: {} });
/** No profile file unless a test names one: the developer's own ~/.config must not leak in. */
const ENV = { HOME: dir, TEMPORAL_CONFIG_FILE: join(dir, 'none.toml') };
const target = (env: Record<string, string> = {}, temporal: Record<string, unknown> = {}) =>
  resolveTemporalTarget(config(temporal), { ...ENV, ...env });

describe('the Temporal connection: variables, then the profile, then the configuration', () => {
  it('falls back to the configuration, plaintext', () => {
    const t = target({}, { address: 'cfg.example:7233', namespace: 'cfg' });
    expect(t).toMatchObject({ address: 'cfg.example:7233', namespace: 'cfg', tls: false, addressFrom: 'temporal.address' });
    expect(t.connectionOptions.tls).toBeUndefined();
    expect(t.description).toBe(
      'cfg.example:7233 (from temporal.address), namespace cfg (from temporal.namespace), plaintext (no TLS setting)',
    );
  });

  it('takes a profile over the configuration, and the variables over both', () => {
    const p = target({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'mtls' }, { address: 'cfg.example:7233' });
    expect(p).toMatchObject({ address: 'secure.example:7233', namespace: 'exports', tls: true });
    expect(p.connectionOptions.tls).toEqual({
      serverNameOverride: 'temporal.example',
      serverRootCACertificate: Buffer.from('CA PEM'),
      clientCertPair: { crt: Buffer.from('CLIENT CERT PEM'), key: Buffer.from('CLIENT KEY PEM') },
    });
    expect(p.description).toContain(`client certificate tls.client_cert_path (${CERT}) of profile 'mtls' in ${PROFILES}`);
    const v = target({
      TEMPORAL_CONFIG_FILE: PROFILES,
      TEMPORAL_PROFILE: 'mtls',
      TEMPORAL_ADDRESS: 'env.example:7233',
      TEMPORAL_TLS: 'false',
    });
    expect(v).toMatchObject({ address: 'env.example:7233', addressFrom: 'TEMPORAL_ADDRESS', tls: false });
    expect(v.connectionOptions.tls).toBe(false);
    expect(v.description).toContain('plaintext (TLS off by $TEMPORAL_TLS)');
  });

  it('reads the default profile of the file every Temporal tool reads', () => {
    expect(target({ TEMPORAL_CONFIG_FILE: PROFILES }).address).toBe('default.example:7233');
  });

  it('turns TLS on for an API key alone, says so, and never shows the key', () => {
    const t = target({ TEMPORAL_API_KEY: 'sekrit-key-42' });
    expect(t).toMatchObject({ tls: true, tlsImpliedByApiKey: true, apiKeyFrom: '$TEMPORAL_API_KEY' });
    expect(t.connectionOptions).toMatchObject({ apiKey: 'sekrit-key-42', tls: true });
    expect(t.description).toContain('TLS (on because an API key is set; TEMPORAL_TLS=false for a server without TLS)');
    const failure = connectionFailure(t, new Error('Failed to connect before the deadline')).message;
    expect(failure).toContain('TEMPORAL_TLS=false');
    for (const text of [
      t.description,
      failure,
      JSON.stringify(target({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'cloud' }).description),
    ]) {
      expect(text).not.toMatch(/sekrit|profile-key-123/);
    }
  });

  it('takes an API key and a client key from the configuration as references, never as text', () => {
    const t = target(
      { CV_TEMPORAL_KEY: 'from-env-ref', CV_CLIENT_KEY: 'KEY FROM ENV' },
      {
        apiKey: { env: 'CV_TEMPORAL_KEY' },
        tls: { serverCaCertPath: CA, clientCertPath: CERT, clientKey: { env: 'CV_CLIENT_KEY' } },
      },
    );
    expect(t.connectionOptions).toMatchObject({ apiKey: 'from-env-ref', tls: { clientCertPair: { key: Buffer.from('KEY FROM ENV') } } });
    expect(t.description).toContain('API key from temporal.apiKey ($CV_TEMPORAL_KEY)');
    expect(() => config({ apiKey: 'literal-key' })).toThrow(/temporal\.apiKey: a secret written into the configuration is refused/);
    expect(() => config({ tls: { clientKey: '-----BEGIN PRIVATE KEY-----' } })).toThrow(
      /temporal\.tls\.clientKey: a secret written into the configuration is refused/,
    );
  });

  it('takes a variable set to nothing as not set', () => {
    expect(
      target({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '', TEMPORAL_ADDRESS: '', TEMPORAL_API_KEY: '' }, { address: 'cfg.example:7233' }),
    ).toMatchObject({ address: 'cfg.example:7233', tls: false });
    expect(target({ TEMPORAL_TLS: '', TEMPORAL_API_KEY: 'k' })).toMatchObject({ tls: true, tlsImpliedByApiKey: true });
  });

  it('refuses a client certificate without its key, wherever it was given', () => {
    expect(() => target({ TEMPORAL_TLS_CLIENT_CERT_PATH: CERT })).toThrow(
      /TEMPORAL_TLS_CLIENT_CERT_PATH \(.*client\.pem\): a TLS client certificate without its key is refused/,
    );
    expect(() => target({ TEMPORAL_TLS_CLIENT_KEY_DATA: 'KEY' })).toThrow(
      /TEMPORAL_TLS_CLIENT_KEY_DATA: a TLS client key without its certificate is refused/,
    );
    expect(() => target({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'half' })).toThrow(
      /tls\.client_cert_path .* of profile 'half' .*: a TLS client certificate without its key/,
    );
  });

  it('names the variable, the profile or the file behind every bad setting', () => {
    expect(() => target({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nope/ca.pem' })).toThrow(
      /TEMPORAL_TLS_SERVER_CA_CERT_PATH \(\/nope\/ca\.pem\): cannot read \/nope\/ca\.pem \(ENOENT\)/,
    );
    expect(() => target({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'nope' })).toThrow(
      /TEMPORAL_PROFILE: no profile 'nope' in .*temporal\.toml/,
    );
    expect(() => target({ TEMPORAL_PROFILE: 'nope' })).toThrow(
      /TEMPORAL_PROFILE: no profile 'nope' in .*none\.toml \(the file does not exist\)/,
    );
    expect(() => target({ TEMPORAL_CONFIG_FILE: file('broken.toml', '[profile.x\naddress=') })).toThrow(
      /TEMPORAL_CONFIG_FILE .*broken\.toml: not a usable Temporal configuration file/,
    );
    const bad = file('bad-address.toml', '[profile.default]\naddress = "https://temporal:7233"\n');
    expect(() => target({ TEMPORAL_CONFIG_FILE: bad })).toThrow(/address of profile 'default' in .*bad-address\.toml: expected host:port/);
  });
});

describe('a failed connection', () => {
  const plain = target({}, { address: '127.0.0.1:7233' });
  const withKey = target({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS_SERVER_CA_CERT_PATH: CA, TEMPORAL_ADDRESS: 'localhost:7243' });

  it('prints the real cause grpc-js keeps in `cause`, the address, where it came from and the TLS settings', () => {
    const err = Object.assign(new Error('Failed to connect to Temporal server'), {
      cause: new Error('16 UNAUTHENTICATED: invalid or missing API key'),
    });
    const message = connectionFailure(withKey, err).message;
    expect(message).toMatch(
      /^TEMPORAL_ADDRESS: cannot connect to Temporal at localhost:7243 \(Failed to connect to Temporal server: 16 UNAUTHENTICATED: invalid or missing API key\)/,
    );
    expect(message).toContain('the server refused the API key from $TEMPORAL_API_KEY');
    expect(message).toContain(
      `Tried: localhost:7243 (from $TEMPORAL_ADDRESS), namespace default (from temporal.namespace), TLS with server CA $TEMPORAL_TLS_SERVER_CA_CERT_PATH (${CA}), API key from $TEMPORAL_API_KEY`,
    );
  });

  it('tells a refusal (wait will not help) from a server that is away', () => {
    expect(isTemporalRefusal(new Error('TransportError: tls handshake eof: received fatal alert: CertificateRequired'))).toBe(true);
    expect(
      isTemporalRefusal(new Error("Failed to call GetSystemInfo: code: 'The request does not have valid authentication credentials'")),
    ).toBe(true);
    expect(isTemporalRefusal(new Error('invalid peer certificate: UnknownIssuer'))).toBe(true);
    expect(isTemporalRefusal(new Error('TransportError: tcp connect error: Connection refused (os error 111)'))).toBe(false);
    expect(connectionFailure(plain, new Error('TransportError: tcp connect error')).message).toMatch(
      /^temporal\.address: cannot connect to Temporal at 127\.0\.0\.1:7233 \(TransportError: tcp connect error\); check the address/,
    );
  });
});
