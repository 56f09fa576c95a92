import { quoted, textProblem } from './names';
import { INSTANT_HINT, readInstant } from './instants';

/**
 * Field-by-field validation for workflow inputs, small enough to run in the workflow sandbox.
 *
 * The workflows' inputs used to be zod schemas. Temporal evaluates the workflow bundle once per
 * workflow, and with zod in it an open export cost the workflows worker 1.62 MB against 0.47 MB
 * without (bench/open-exports.ts: 314 MB against 192 MB with 100 open). These helpers collect every problem as
 * `field: problem` (the message an operator sees in the Temporal UI) and return the value when it
 * is valid, or undefined.
 *
 * Whatever arrives (anyone who can open the Temporal UI can start a workflow with any JSON), they
 * never throw: values are read only from an object's own keys (a field named `constructor` or
 * `__proto__` is an unknown field, not Object.prototype's), and every value quoted back in a
 * message is bounded and escaped, so a NUL or a megabyte of junk never reaches a log or Postgres.
 */
export class FieldProblems {
  readonly list: string[] = [];

  add(path: string, problem: string): undefined {
    this.list.push(`${path || 'input'}: ${problem}`);
    return undefined;
  }

  get ok(): boolean {
    return this.list.length === 0;
  }

  /** The problems as one line; past the first ten, only how many more there are. */
  summary(): string {
    const shown = this.list.slice(0, MAX_LISTED).join('; ');
    return this.list.length > MAX_LISTED ? `${shown}; and ${this.list.length - MAX_LISTED} more` : shown;
  }
}

const MAX_LISTED = 10;

/** A value of the input and where it is (`options.maxInFlight`), for the error that names it. */
export interface Field {
  value: unknown;
  path: string;
}

/** A key as it appears in a path: tame keys as they are, anything else quoted and escaped. */
function keyInPath(key: string): string {
  return /^[A-Za-z0-9_$-]{1,64}$/.test(key) ? key : quoted(key);
}

const join = (path: string, key: string) => (path ? `${path}.${keyInPath(key)}` : keyInPath(key));

function isPlainObject(raw: unknown): raw is Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const proto = Object.getPrototypeOf(raw) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A plain object with no keys but `known` (each unknown one is a problem); undefined if not an object. */
export function object(raw: unknown, path: string, problems: FieldProblems, known: readonly string[]): Record<string, unknown> | undefined {
  if (!isPlainObject(raw)) return problems.add(path, `expected an object, got ${describe(raw)}`);
  for (const key of Object.keys(raw)) if (!known.includes(key)) problems.add(join(path, key), 'unknown field');
  return raw;
}

/** The value at `key` of an object (its own property only), with its path. */
export function field(fields: Record<string, unknown>, path: string, key: string): Field {
  return { value: Object.hasOwn(fields, key) ? fields[key] : undefined, path: join(path, key) };
}

/** A string by a grammar (names, ids); the pattern should bound its length. */
export function string(
  f: Field,
  problems: FieldProblems,
  rules: { max?: number; pattern?: RegExp; hint?: string } = {},
): string | undefined {
  if (typeof f.value !== 'string') return problems.add(f.path, `expected a string, got ${describe(f.value)}`);
  if (rules.max !== undefined && f.value.length > rules.max) return problems.add(f.path, `at most ${rules.max} characters`);
  if (rules.pattern && !rules.pattern.test(f.value)) return problems.add(f.path, rules.hint ?? `does not match ${rules.pattern}`);
  return f.value;
}

/** Free text kept in provenance or shown to people (`trigger.by`): 1 to `max` characters, no control characters. */
export function text(f: Field, problems: FieldProblems, max: number): string | undefined {
  if (typeof f.value !== 'string') return problems.add(f.path, `expected a string, got ${describe(f.value)}`);
  const problem = textProblem(f.value, max);
  return problem === undefined ? f.value : problems.add(f.path, problem);
}

export function number(f: Field, problems: FieldProblems, rules: { min: number; max: number; integer?: boolean }): number | undefined {
  if (typeof f.value !== 'number' || !Number.isFinite(f.value)) return problems.add(f.path, `expected a number, got ${describe(f.value)}`);
  if (rules.integer && !Number.isInteger(f.value)) return problems.add(f.path, 'expected a whole number');
  if (f.value < rules.min || f.value > rules.max) return problems.add(f.path, `expected a number from ${rules.min} to ${rules.max}`);
  return f.value;
}

export function boolean(f: Field, problems: FieldProblems): boolean | undefined {
  if (typeof f.value !== 'boolean') return problems.add(f.path, `expected true or false, got ${describe(f.value)}`);
  return f.value;
}

export function oneOf<T extends string>(f: Field, problems: FieldProblems, values: readonly T[]): T | undefined {
  if (typeof f.value !== 'string' || !(values as readonly string[]).includes(f.value)) {
    return problems.add(f.path, `expected one of ${values.map((v) => `'${v}'`).join(', ')}, got ${describe(f.value)}`);
  }
  return f.value as T;
}

/**
 * A calendar-valid date or date-time from 2000 to 2100, as its UTC instant (`toISOString()` form).
 * `hint` replaces the grammar's own where a field is mostly given a point in time (`now`, `at`).
 */
export function instant(f: Field, problems: FieldProblems, hint = INSTANT_HINT): string | undefined {
  const read = readInstant(f.value);
  if ('problem' in read) {
    const problem = read.problem === INSTANT_HINT ? hint : read.problem;
    return problems.add(f.path, typeof f.value === 'string' ? problem : `${problem}, got ${describe(f.value)}`);
  }
  return new Date(read.ms).toISOString();
}

/** A list of at most `max` values, each checked by `each` at its index (`connections.3`); undefined if any is bad. */
export function list<T>(f: Field, problems: FieldProblems, max: number, each: (f: Field) => T | undefined): T[] | undefined {
  if (!Array.isArray(f.value)) return problems.add(f.path, `expected a list, got ${describe(f.value)}`);
  if (f.value.length > max) return problems.add(f.path, `at most ${max} entries`);
  const before = problems.list.length;
  const out: T[] = [];
  for (let i = 0; i < f.value.length; i++) {
    const v = each({ value: (f.value as unknown[])[i], path: `${f.path}.${i}` });
    if (v !== undefined) out.push(v);
  }
  return problems.list.length === before ? out : undefined;
}

/** Absent (undefined) stays absent; anything else goes through `check`. */
export function optional<T>(f: Field, check: (f: Field) => T | undefined): T | undefined {
  return f.value === undefined ? undefined : check(f);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return quoted(value);
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'undefined') return String(value);
  return `a ${typeof value}`;
}
