import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigurationError } from '../errors';
import { escaped, quoted } from '../contracts/names';
import { configSchema, databaseUrlProblem, type CallvaultConfig, type ConnectionConfig } from './schema';

export const DEFAULT_CONFIG_FILE = 'callvault.config.json';

/** Issues listed in one error at most; the rest are counted. */
const MAX_ISSUES = 20;

/**
 * Turns zod issues into "where: what" lines, naming the file the value came from (and the
 * environment variable, for a value it overrode). Keys and messages are escaped and bounded: a
 * hostile key must not put a NUL or a megabyte into a log line.
 */
export function describeIssues(source: string, error: z.ZodError, fromEnvironment: Record<string, string> = {}): string {
  const lines = error.issues.slice(0, MAX_ISSUES).map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'string' && !/^[A-Za-z0-9_$-]{1,64}$/.test(p) ? quoted(p) : String(p))).join('.');
    const where = path || '(top level)';
    const env = Object.hasOwn(fromEnvironment, path) ? fromEnvironment[path] : undefined;
    return `  ${where}${env ? ` (from $${env})` : ''}: ${escaped(issue.message, 400)}`;
  });
  if (error.issues.length > MAX_ISSUES) lines.push(`  and ${error.issues.length - MAX_ISSUES} more`);
  return `${source} is not a valid callvault configuration:\n${lines.join('\n')}`;
}

/** Validates a configuration object (from a file, or built in code by the demo and the tests). */
export function parseConfig(raw: unknown, source = 'configuration', fromEnvironment: Record<string, string> = {}): CallvaultConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigurationError(describeIssues(source, parsed.error, fromEnvironment));
  const connections: Record<string, ConnectionConfig> = {};
  // Each value is what its provider's own schema made of it (connectionSchemaFor): a ConnectionConfig without its name.
  for (const [name, conn] of Object.entries(parsed.data.connections))
    connections[name] = { ...(conn as Omit<ConnectionConfig, 'name'>), name } as ConnectionConfig;
  return { ...parsed.data, connections };
}

/** Environment overrides: the variable, and the field of the file it replaces. */
const OVERRIDES: ReadonlyArray<[env: string, section: 'temporal' | 'storage' | 'worker', key: string]> = [
  ['TEMPORAL_ADDRESS', 'temporal', 'address'],
  ['TEMPORAL_NAMESPACE', 'temporal', 'namespace'],
  ['CALLVAULT_TASK_QUEUE', 'temporal', 'taskQueue'],
  ['S3_ENDPOINT', 'storage', 'endpoint'],
  ['S3_BUCKET', 'storage', 'bucket'],
  ['S3_REGION', 'storage', 'region'],
  ['CALLVAULT_METRICS_ADDRESS', 'worker', 'metrics.address'],
];

/**
 * Environment variables win over the file for the parts that differ per deployment, so one file
 * serves every environment (the twelve-factor way the docker-compose file uses too). They are
 * validated as the file is, and an error names the variable.
 */
function applyEnvironment(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { raw: Record<string, unknown>; fromEnvironment: Record<string, string> } {
  const sections: Record<string, Record<string, unknown>> = {};
  const fromEnvironment: Record<string, string> = {};
  for (const section of ['temporal', 'storage', 'worker']) {
    const given = raw[section];
    if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) continue; // the schema says what is wrong
    sections[section] = { ...(given as object | undefined) };
  }
  for (const [name, section, key] of OVERRIDES) {
    const value = env[name];
    if (!value || !sections[section]) continue;
    setPath(sections[section], key.split('.'), value);
    fromEnvironment[`${section}.${key}`] = name;
  }
  return { raw: { ...raw, ...sections }, fromEnvironment };
}

/** Sets `value` at a dotted path, copying the objects on the way (the parsed file stays as read). */
function setPath(target: Record<string, unknown>, path: string[], value: string): void {
  const [head, ...rest] = path as [string, ...string[]];
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  const inner = target[head];
  const copy = typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? { ...(inner as Record<string, unknown>) } : {};
  target[head] = copy;
  setPath(copy, rest, value);
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
    // Editors on some systems save UTF-8 with a byte order mark; JSON.parse would call it a token.
    raw = JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ConfigurationError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigurationError(`${path}: the top level must be a JSON object`);
  }
  const applied = applyEnvironment(raw as Record<string, unknown>, env);
  const config = parseConfig(applied.raw, path, applied.fromEnvironment);
  return env.DATABASE_URL ? { ...config, database: { ...config.database, url: databaseUrlFromEnvironment(env.DATABASE_URL) } } : config;
}

/** DATABASE_URL is the environment, where a password may be (as in PGPASSWORD): checked for all else. */
function databaseUrlFromEnvironment(url: string): string {
  const problem = databaseUrlProblem(url, true);
  if (problem) throw new ConfigurationError(`DATABASE_URL: ${problem}`);
  return url;
}

/**
 * A Postgres URL split for a configuration file, which may not hold a password: the URL without it,
 * and the environment that gives it to the worker (PGPASSWORD, which every Postgres client reads).
 * For tools that write a configuration for a database they were handed (the demo, the bench).
 */
export function splitDatabasePassword(url: string): { url: string; env: Record<string, string> } {
  const u = new URL(url);
  if (!u.password) return { url, env: {} };
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), env: { PGPASSWORD: password } };
}

/** The configured connection of that name; only the configuration's own names count (never `constructor`). */
export function connectionByName(config: CallvaultConfig, name: string): ConnectionConfig {
  const conn = typeof name === 'string' && Object.hasOwn(config.connections, name) ? config.connections[name] : undefined;
  if (!conn) {
    const known = Object.keys(config.connections).join(', ') || 'none';
    throw new ConfigurationError(`connection: unknown connection ${quoted(String(name))} (configured on this worker: ${known})`);
  }
  return conn;
}
