import type { FieldProblems } from './fields';

/**
 * What the inputs of the two workflows that start exports on their own (the scheduled export and
 * the retention sweep) share: the error that names every bad field, and the hint for an instant.
 */
export class InvalidTriggerInput extends Error {
  override readonly name = 'InvalidTriggerInput';
}

/** Throws the input's problems as one InvalidTriggerInput, `invalid <what>: field: problem; ...`. */
export function failTriggerInput(what: string, problems: FieldProblems): never {
  throw new InvalidTriggerInput(`invalid ${what}: ${problems.summary()}`);
}

export const POINT_IN_TIME_HINT = 'expected an ISO-8601 date-time such as 2026-03-01T00:00:00Z (or a date, meaning its midnight UTC)';
