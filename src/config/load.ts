import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigurationError } from '../errors';
import { configSchema, type CallvaultConfig, type ConnectionConfig } from './schema';

export const DEFAULT_CONFIG_FILE = 'callvault.config.json';

/** Turns zod issues into "where: what" lines, naming the file the value came from. */
export function describeIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
    return `  ${where}: ${issue.message}`;
  });
  return `${source} is not a valid callvault configuration:\n${lines.join('\n')}`;
}

/** Validates a configuration object (from a file, or built in code by the demo and the tests). */
export function parseConfig(raw: unknown, source = 'configuration'): CallvaultConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigurationError(describeIssues(source, parsed.error));
  const connections: Record<string, ConnectionConfig> = {};
  for (const [name, conn] of Object.entries(parsed.data.connections)) connections[name] = { ...conn, name };
  return { ...parsed.data, connections };
}

/**
 * Environment variables win over the file for the parts that differ per deployment, so one file
 * serves every environment (the twelve-factor way the docker-compose file uses too).
 */
function applyEnvironment(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const temporal = { ...(raw.temporal as object | undefined) } as Record<string, unknown>;
  const storage = { ...(raw.storage as object | undefined) } as Record<string, unknown>;
  const database = { ...(raw.database as object | undefined) } as Record<string, unknown>;
  if (env.TEMPORAL_ADDRESS) temporal.address = env.TEMPORAL_ADDRESS;
  if (env.TEMPORAL_NAMESPACE) temporal.namespace = env.TEMPORAL_NAMESPACE;
  if (env.CALLVAULT_TASK_QUEUE) temporal.taskQueue = env.CALLVAULT_TASK_QUEUE;
  if (env.S3_ENDPOINT) storage.endpoint = env.S3_ENDPOINT;
  if (env.S3_BUCKET) storage.bucket = env.S3_BUCKET;
  if (env.S3_REGION) storage.region = env.S3_REGION;
  if (env.DATABASE_URL) database.url = env.DATABASE_URL;
  return { ...raw, temporal, storage, database };
}

export interface LoadConfigOptions {
  /** Explicit path (the CLI's --config); otherwise CALLVAULT_CONFIG, then ./callvault.config.json. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

export function configPath(options: LoadConfigOptions = {}): string {
  const env = options.env ?? process.env;
  const chosen = options.path ?? env.CALLVAULT_CONFIG ?? DEFAULT_CONFIG_FILE;
  return resolve(chosen);
}

export function loadConfig(options: LoadConfigOptions = {}): CallvaultConfig {
  const env = options.env ?? process.env;
  const path = configPath(options);
  if (!existsSync(path)) {
    throw new ConfigurationError(
      `no configuration at ${path}: pass --config <file> or set CALLVAULT_CONFIG (README.md, "Configuration", has an example)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigurationError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigurationError(`${path}: the top level must be a JSON object`);
  }
  return parseConfig(applyEnvironment(raw as Record<string, unknown>, env), path);
}

export function connectionByName(config: CallvaultConfig, name: string): ConnectionConfig {
  const conn = config.connections[name];
  if (!conn) {
    const known = Object.keys(config.connections).join(', ') || 'none';
    throw new ConfigurationError(`connection: unknown connection '${name}' (configured on this worker: ${known})`);
  }
  return conn;
}
