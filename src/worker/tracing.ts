import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import type { CallvaultConfig } from '../config/schema';

export interface Tracing {
  /** For Worker.create (and a Client): workflow, activity and client spans, context carried in headers. */
  plugin: OpenTelemetryPlugin;
  /** Sends what is buffered; call before the process ends. */
  shutdown(): Promise<void>;
}

/**
 * Where traces go: `worker.tracing.otlpEndpoint`, else the standard OTEL_EXPORTER_OTLP_ENDPOINT
 * (or _TRACES_ENDPOINT). Null: tracing is off, and the worker loads no OpenTelemetry code.
 */
export function tracingEndpoint(config: CallvaultConfig, env: NodeJS.ProcessEnv = process.env): { url?: string; from: string } | null {
  const configured = config.worker.tracing?.otlpEndpoint;
  if (configured) return { url: `${configured.replace(/\/+$/, '')}/v1/traces`, from: 'worker.tracing.otlpEndpoint' };
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return { from: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' };
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return { from: 'OTEL_EXPORTER_OTLP_ENDPOINT' };
  return null;
}

/**
 * OpenTelemetry through Temporal's interceptors: a span for each workflow run, activity start and
 * activity execution, linked by the context Temporal carries in headers (and across continue-as-new),
 * so an export is one trace. The async-hooks context manager is what keeps an activity's spans in
 * its trace (without it they scatter into several). Spans go to an OTLP/HTTP collector in batches;
 * tests pass their own processor.
 */
export function createTracing(options: { serviceName: string; url?: string; spanProcessor?: SpanProcessor }): Tracing {
  // Loaded only when tracing is on: a worker without it loads no OpenTelemetry code.
  const { AsyncLocalStorageContextManager } =
    require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
  const { Resource } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { BasicTracerProvider, BatchSpanProcessor } =
    require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { OpenTelemetryPlugin } =
    require('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry');
  const resource = new Resource({ 'service.name': options.serviceName });
  const spanProcessor = options.spanProcessor ?? new BatchSpanProcessor(otlpExporter(options.url));
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(spanProcessor);
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  return { plugin: new OpenTelemetryPlugin({ resource, spanProcessor }), shutdown: () => provider.shutdown() };
}

function otlpExporter(url: string | undefined) {
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter(url ? { url } : {});
}
