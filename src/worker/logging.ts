import { DefaultLogger, type LogEntry, type LogLevel, type Logger } from '@temporalio/worker';
import { ConfigurationError } from '../errors';

/**
 * The worker's log: one JSON object per line on stdout (`ts`, `level`, `msg`, then what the SDK
 * and callvault know: workflowId, runId, activityType, connection, ...), or, for a person at a
 * terminal, one readable line. The SDK's workflow, activity and core logs all come through here.
 */
export type LogFormat = 'json' | 'text';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** Fields the SDK adds that help no operator (and a task token is a capability to complete the activity). */
const DROPPED = new Set(['taskToken']);
/** One name for one thing: activity lines say `workflowRunId`, workflow lines `runId`. */
const RENAMED: Readonly<Record<string, string>> = { workflowRunId: 'runId' };

export interface LogSettings {
  format: LogFormat;
  level: LogLevel;
}

/** CALLVAULT_LOG_FORMAT (json, the default, or text) and CALLVAULT_LOG_LEVEL (default INFO), checked. */
export function logSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LogSettings {
  const format = (env.CALLVAULT_LOG_FORMAT ?? 'json').toLowerCase();
  if (format !== 'json' && format !== 'text') throw new ConfigurationError(`CALLVAULT_LOG_FORMAT: '${format}' is not one of json, text`);
  const level = (env.CALLVAULT_LOG_LEVEL ?? 'INFO').toUpperCase() as LogLevel;
  if (!LEVELS.includes(level)) throw new ConfigurationError(`CALLVAULT_LOG_LEVEL: '${level}' is not one of ${LEVELS.join(', ')}`);
  return { format, level };
}

export function createLogger(settings: LogSettings, write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  return new DefaultLogger(settings.level, (entry: LogEntry) => write(`${formatEntry(entry, settings.format)}\n`));
}

/** One log line; exported for the tests. */
export function formatEntry(entry: LogEntry, format: LogFormat): string {
  const ts = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = fields(entry.meta ?? {});
  if (format === 'json') return JSON.stringify({ ts, level: entry.level.toLowerCase(), msg: entry.message, ...meta }, jsonValue);
  const rest = Object.entries(meta).map(([k, v]) => `${k}=${typeof v === 'string' ? quoteIfNeeded(v) : JSON.stringify(v, jsonValue)}`);
  return [ts, entry.level.padEnd(5), entry.message, ...rest].join(' ');
}

function fields(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (DROPPED.has(key) || value === undefined) continue;
    out[RENAMED[key] ?? key] = value;
  }
  return out;
}

/** Errors as their name, message, Temporal type and cause (JSON.stringify would print `{}`); bigints as text. */
function jsonValue(_key: string, value: unknown): unknown {
  if (value instanceof Error) return serializeError(value, 0);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function serializeError(err: Error, depth: number): Record<string, unknown> {
  const e = err as Error & { type?: unknown; nonRetryable?: unknown; cause?: unknown; code?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(typeof e.type === 'string' ? { type: e.type } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(e.nonRetryable === true ? { nonRetryable: true } : {}),
    ...(e.cause instanceof Error && depth < 4 ? { cause: serializeError(e.cause, depth + 1) } : {}),
    ...(e.stack && !e.type
      ? {
          stack: e.stack
            .split('\n')
            .slice(1, 6)
            .map((l) => l.trim()),
        }
      : {}),
  };
}

function quoteIfNeeded(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}
