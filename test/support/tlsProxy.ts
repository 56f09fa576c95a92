import { readFileSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import type { TestCertificates } from './certificates';

export interface TlsProxy {
  /** `localhost:<port>`: the server certificate names localhost (grpc-js warns about IP addresses as TLS names). */
  readonly address: string;
  /** The client certificate's CN of each accepted handshake ('none' without one). */
  readonly accepted: readonly string[];
  /** Why each refused handshake was refused. */
  readonly refused: readonly string[];
  close(): Promise<void>;
}

/**
 * TLS in front of a plaintext gRPC server (Temporal's dev server has no TLS options): terminates
 * TLS (ALPN h2) and pipes the HTTP/2 bytes through untouched, so long polls, trailers and
 * cancellations pass as they are. With `requireClientCert` it is mutual TLS: a client without a
 * certificate from the test CA is refused in the handshake.
 */
export async function startTlsProxy(options: { upstream: string; certs: TestCertificates; requireClientCert: boolean }): Promise<TlsProxy> {
  const [upHost, upPort] = hostPort(options.upstream);
  const accepted: string[] = [];
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({
    key: readFileSync(options.certs.serverKey),
    cert: readFileSync(options.certs.serverCert),
    ca: readFileSync(options.certs.caCert),
    ALPNProtocols: ['h2'],
    requestCert: options.requireClientCert,
    rejectUnauthorized: options.requireClientCert,
  });
  server.on('secureConnection', (client: TLSSocket) => {
    accepted.push(String(client.getPeerCertificate()?.subject?.CN ?? 'none'));
    const upstream = connect(upPort, upHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('tlsClientError', (err) => refused.push(err.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `localhost:${(server.address() as AddressInfo).port}`,
    accepted,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function hostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}
