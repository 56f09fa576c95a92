/**
 * Field-by-field validation for workflow inputs, small enough to run in the workflow sandbox.
 *
 * The workflows' inputs used to be zod schemas. Temporal evaluates the workflow bundle once per
 * workflow, and with zod in it an open export cost the workflows worker 1.62 MB against 0.47 MB
 * without (bench/open-exports.ts: 314 MB against 192 MB with 100 open). These helpers collect every problem as
 * `field: problem` (the message an operator sees in the Temporal UI) and return the value when it
 * is valid, or undefined.
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
}

/** A value of the input and where it is (`options.maxInFlight`), for the error that names it. */
export interface Field {
  value: unknown;
  path: string;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** A plain object with no keys but `known` (each unknown one is a problem); undefined if not an object. */
export function object(raw: unknown, path: string, problems: FieldProblems, known: readonly string[]): Record<string, unknown> | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return problems.add(path, `expected an object, got ${describe(raw)}`);
  const fields = raw as Record<string, unknown>;
  for (const key of Object.keys(fields)) if (!known.includes(key)) problems.add(join(path, key), 'unknown field');
  return fields;
}

/** The value at `key` of an object, with its path. */
export function field(fields: Record<string, unknown>, path: string, key: string): Field {
  return { value: fields[key], path: join(path, key) };
}

export function string(f: Field, problems: FieldProblems, rules: { max?: number; pattern?: RegExp; hint?: string } = {}): string | undefined {
  if (typeof f.value !== 'string') return problems.add(f.path, `expected a string, got ${describe(f.value)}`);
  if (rules.max !== undefined && f.value.length > rules.max) return problems.add(f.path, `at most ${rules.max} characters`);
  if (rules.pattern && !rules.pattern.test(f.value)) return problems.add(f.path, rules.hint ?? `does not match ${rules.pattern}`);
  return f.value;
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

/** Absent (undefined) stays absent; anything else goes through `check`. */
export function optional<T>(f: Field, check: (f: Field) => T | undefined): T | undefined {
  return f.value === undefined ? undefined : check(f);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}
