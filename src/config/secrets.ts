import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from '../errors';

/**
 * A reference to a secret, never the secret itself: configuration files get committed, copied
 * into tickets and pasted into the Temporal UI, so they name where the worker finds the value.
 */
export const secretRefSchema = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof secretRefSchema>;

/** Resolves a secret in the worker. `field` names the config field for the error message. */
export function resolveSecret(ref: SecretRef, field: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (!value) {
      throw new ConfigurationError(`${field}: environment variable ${ref.env} is not set on this worker`);
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
