import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from './errors';

export type SecretRef = { env: string } | { file: string };

/** How to give a secret, for every message that refuses one written in the open. */
export const SECRET_REF_HINT =
  'reference it as { "env": "NAME" } (an environment variable of the worker) or { "file": "/path" } (a file the worker reads)';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
// eslint-disable-next-line no-control-regex
const FILE_PATH = /^\/[^\u0000-\u001f\u007f]{0,4095}$/;

/** Why `raw` is not a secret reference, or undefined. Never quotes the value: it may be the secret. */
export function secretRefProblem(raw: unknown): string | undefined {
  if (typeof raw === 'string') return `a secret written into the configuration is refused; ${SECRET_REF_HINT}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `expected a secret reference; ${SECRET_REF_HINT}`;
  const keys = Object.keys(raw);
  const value = (raw as Record<string, unknown>)[keys[0] ?? ''];
  if (keys.length !== 1 || (keys[0] !== 'env' && keys[0] !== 'file')) return `expected exactly one of "env" and "file"; ${SECRET_REF_HINT}`;
  if (keys[0] === 'env' && (typeof value !== 'string' || !ENV_NAME.test(value)))
    return 'env: expected an environment variable name (letters, digits and _, not starting with a digit)';
  if (keys[0] === 'file' && (typeof value !== 'string' || !FILE_PATH.test(value)))
    return 'file: expected an absolute path (starting with /) without control characters';
  return undefined;
}

/**
 * A reference to a secret, never the secret itself: configuration files get committed, copied
 * into tickets and pasted into the Temporal UI, so they name where the worker finds the value.
 */
export const secretRefSchema = z.unknown().transform((raw, ctx): SecretRef => {
  const problem = secretRefProblem(raw);
  if (problem === undefined) return raw as SecretRef;
  ctx.issues.push({ code: 'custom', message: problem, input: undefined });
  return z.NEVER;
});

/** Who resolves secrets in this process, as messages name it: a worker, or the CLI running a command (verify, say). */
let resolvedBy: 'worker' | 'CLI' = 'worker';

/** Set once by the entry point (`callvault <command>` other than `worker` says CLI). */
export function secretsResolvedBy(who: 'worker' | 'CLI'): void {
  resolvedBy = who;
}

/** Resolves a secret in the worker (or the CLI). `field` names the config field for the error message. */
export function resolveSecret(ref: SecretRef, field: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (!value) {
      throw new ConfigurationError(`${field}: environment variable ${ref.env} is not set for this ${resolvedBy}`);
    }
    return value;
  }
  let value: string;
  try {
    value = readFileSync(ref.file, 'utf8').trim();
  } catch (err) {
    throw new ConfigurationError(`${field}: cannot read secret file ${ref.file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  if (!value) throw new ConfigurationError(`${field}: secret file ${ref.file} is empty`);
  return value;
}
