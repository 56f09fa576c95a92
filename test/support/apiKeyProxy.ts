import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TestCertificates } from './certificates';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;
/** Set by the upstream session itself. */
const PSEUDO = new Set([':scheme', ':authority', ':status']);

export interface ApiKeyProxy {
  /** `localhost:<port>` */
  readonly address: string;
  /** gRPC calls let through, and refused (no or another key). */
  readonly counts: { allowed: number; denied: number };
  close(): Promise<void>;
}

/**
 * A Temporal frontend that checks API keys, as Temporal Cloud does (the dev server checks none):
 * an HTTP/2 proxy over TLS that answers UNAUTHENTICATED (gRPC status 16, trailers-only) unless a
 * call carries `authorization: Bearer <apiKey>`, and forwards the rest stream by stream (headers,
 * data, the trailers carrying grpc-status), cancelling upstream when the caller cancels.
 */
export async function startApiKeyProxy(options: { upstream: string; apiKey: string; certs: TestCertificates }): Promise<ApiKeyProxy> {
  const counts = { allowed: 0, denied: 0 };
  const upstreams = new WeakMap<http2.Http2Session, http2.ClientHttp2Session>();
  const upstreamFor = (caller: http2.Http2Session): http2.ClientHttp2Session => {
    let up = upstreams.get(caller);
    // One upstream session per caller session, made again if the server closed it (GOAWAY, idle).
    if (!up || up.closed || up.destroyed) {
      up = http2.connect(`http://${options.upstream}`);
      up.on('error', () => undefined);
      const made = up;
      caller.once('close', () => made.close());
      upstreams.set(caller, made);
    }
    return up;
  };
  const server = http2.createSecureServer({
    key: readFileSync(options.certs.serverKey),
    cert: readFileSync(options.certs.serverCert),
    ALPNProtocols: ['h2'],
  });
  server.on('stream', (stream, headers) => {
    if (headers.authorization !== `Bearer ${options.apiKey}`) {
      counts.denied++;
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'invalid or missing API key' },
        { endStream: true },
      );
      return;
    }
    counts.allowed++;
    forward(stream, headers, upstreamFor(stream.session!));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('sessionError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `localhost:${(server.address() as AddressInfo).port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

function forward(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, upstream: http2.ClientHttp2Session): void {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!PSEUDO.has(k) && v !== undefined) out[k] = v;
  const req = upstream.request(out);
  stream.pipe(req);
  req.on('response', (responseHeaders, flags) => {
    const endsNow = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    if (!stream.destroyed) stream.respond({ ...responseHeaders }, endsNow ? { endStream: true } : { waitForTrailers: true });
    if (!endsNow) req.pipe(stream);
  });
  let trailers: http2.OutgoingHttpHeaders = {};
  req.on('trailers', (t) => (trailers = { ...t }));
  stream.on('wantTrailers', () => stream.sendTrailers(trailers));
  // A caller that cancels (a deadline, a worker stopping) cancels upstream, and an upstream reset reaches the caller.
  stream.on('close', () => {
    if (!req.closed) req.close(NGHTTP2_CANCEL);
  });
  req.on('close', () => {
    if (req.rstCode !== NGHTTP2_NO_ERROR && !stream.closed) stream.close(req.rstCode);
  });
  req.on('error', () => undefined);
  stream.on('error', () => undefined);
}
