import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTemporalTarget, tlsHandshakeProblem } from '../../src/client/temporalConnection';
import { parseConfig } from '../../src/config/load';
import { startApiKeyProxy, type ApiKeyProxy } from '../support/apiKeyProxy';
import { makeTestCertificates } from '../support/certificates';
import { hostPort, startTlsProxy, type TlsProxy } from '../support/tlsProxy';

/**
 * The test proxies that stand in for a secured Temporal (test/integration/secured-temporal.test.ts
 * runs real exports through them): checked here against tiny upstreams, so a broken proxy shows as
 * itself and not as a mysterious connection failure.
 */
const certs = makeTestCertificates('proxy-test-client');

function echoServer(): Promise<Server> {
  const server = createServer((s) => s.pipe(s));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Writes `text` through TLS and reads it back; rejects when the handshake is refused. */
function roundTrip(address: string, text: string, withClientCert: boolean): Promise<string> {
  const [host, port] = hostPort(address);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      servername: 'localhost',
      ca: readFileSync(certs.caCert),
      ALPNProtocols: ['h2'],
      ...(withClientCert ? { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } : {}),
    });
    let got = '';
    socket.on('secureConnect', () => socket.write(text));
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
  });
}

describe('the TLS proxy', () => {
  let echo: Server;
  let tls: TlsProxy;
  let mtls: TlsProxy;

  beforeAll(async () => {
    echo = await echoServer();
    const upstream = `127.0.0.1:${(echo.address() as AddressInfo).port}`;
    [tls, mtls] = await Promise.all([
      startTlsProxy({ upstream, certs, requireClientCert: false }),
      startTlsProxy({ upstream, certs, requireClientCert: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([tls.close(), mtls.close()]);
    echo.close();
  });

  it('terminates TLS and passes the bytes through both ways', async () => {
    expect(await roundTrip(tls.address, 'hello through TLS', false)).toBe('hello through TLS');
    expect(tls.accepted).toEqual(['none']);
  });

  it('with mutual TLS, takes a client certificate of the test CA and refuses a client without one', async () => {
    expect(await roundTrip(mtls.address, 'hello with a certificate', true)).toBe('hello with a certificate');
    expect(mtls.accepted).toEqual(['proxy-test-client']);
    await expect(roundTrip(mtls.address, 'no certificate', false)).rejects.toThrow();
    expect(mtls.refused.join('\n')).toMatch(/certificate/i);
  });

  it("tells callvault's connection why a handshake fails, which grpc-js does not", async () => {
    const config = parseConfig({ storage: { bucket: 'b-1' }, connections: {} });
    const target = (env: Record<string, string>) =>
      resolveTemporalTarget(config, {
        TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
        ...env,
      });
    expect(await tlsHandshakeProblem(target({ TEMPORAL_ADDRESS: mtls.address }))).toMatch(/certificate required/i);
    expect(
      await tlsHandshakeProblem(
        target({
          TEMPORAL_ADDRESS: mtls.address,
          TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
          TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
        }),
      ),
    ).toBeNull();
    expect(
      await tlsHandshakeProblem(target({ TEMPORAL_ADDRESS: tls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.clientCert })),
    ).toMatch(/certificate/i);
    // A server that is not there is not a TLS problem: the caller waits for it.
    expect(await tlsHandshakeProblem(target({ TEMPORAL_ADDRESS: 'localhost:1' }))).toBeNull();
  });
});

describe('the API key proxy', () => {
  let upstream: http2.Http2Server;
  let proxy: ApiKeyProxy;
  let client: http2.ClientHttp2Session;

  beforeAll(async () => {
    // A gRPC-shaped upstream: headers, a body, and the status in trailers.
    upstream = http2.createServer();
    upstream.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-saw-authorization': String(headers.authorization) }));
      stream.end(`echo ${headers[':path']}`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    proxy = await startApiKeyProxy({ upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}`, apiKey: 'right-key', certs });
    client = http2.connect(`https://${proxy.address}`, { ca: readFileSync(certs.caCert) });
  });
  afterAll(async () => {
    client.close();
    await proxy.close();
    upstream.close();
  });

  function call(key: string | null): Promise<{ headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const req = client.request({
        ':method': 'POST',
        ':path': '/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo',
        'content-type': 'application/grpc',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      });
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      let body = '';
      req.on('response', (h) => (headers = h));
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => resolve({ headers, body, trailers }));
      req.on('error', reject);
      req.end();
    });
  }

  it('forwards a call with the key: headers, body and the trailers that carry the gRPC status', async () => {
    const answer = await call('right-key');
    expect(answer.body).toBe('echo /temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo');
    expect(answer.trailers).toMatchObject({ 'grpc-status': '0', 'x-saw-authorization': 'Bearer right-key' });
  });

  it('answers UNAUTHENTICATED to a call with another key or none, and forwards nothing', async () => {
    for (const key of ['wrong-key', null]) {
      const answer = await call(key);
      expect(answer.headers).toMatchObject({ 'grpc-status': '16', 'grpc-message': 'invalid or missing API key' });
      expect(answer.body).toBe('');
    }
    expect(proxy.counts).toEqual({ allowed: 1, denied: 2 });
  });
});
