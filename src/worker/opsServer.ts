import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ConfigurationError } from '../errors';
import type { Readiness } from './readiness';

/** A scrape gives the core's exporter this long before it answers 503. */
const CORE_SCRAPE_TIMEOUT_MS = 5_000;

export interface OpsServer {
  /** http://host:port */
  readonly url: string;
  close(): Promise<void>;
}

export interface OpsServerOptions {
  /** host:port, from worker.metrics.address or CALLVAULT_METRICS_ADDRESS (named in errors as `source`). */
  address: string;
  source: string;
  /** The SDK core's Prometheus exporter on loopback (src/worker/telemetry.ts). */
  coreMetricsUrl: string;
  readiness: Readiness;
}

/**
 * One listener for everything a platform watches a worker by: `/metrics` (the SDK's metrics and
 * callvault's, as the core's exporter renders them), `/healthz` (the process answers) and
 * `/readyz` (it can work: src/worker/readiness.ts).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((req, res) => {
    void route(req, res, options).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${(err as Error).message}\n`);
    });
  });
  const [host, port] = splitHostPort(options.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ConfigurationError(`${options.source}: cannot listen on ${options.address} (${err.code ?? err.message})`)),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as { port: number };
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, options: OpsServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (path === '/readyz') {
    const report = await options.readiness.check();
    res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(report)}\n`);
    return;
  }
  if (path === '/metrics') {
    const core = await fetch(options.coreMetricsUrl, { signal: AbortSignal.timeout(CORE_SCRAPE_TIMEOUT_MS) });
    res
      .writeHead(core.ok ? 200 : 503, { 'content-type': core.headers.get('content-type') ?? 'text/plain; version=0.0.4' })
      .end(await core.text());
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /metrics, /healthz and /readyz are served here\n');
}

/** `host:port` or `[v6]:port` into what listen() takes. */
function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), Number(address.slice(at + 1))];
}
