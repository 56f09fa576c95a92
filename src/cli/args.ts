import { InvalidArgumentError } from 'commander';
import { CONNECTION_NAME, CONNECTION_NAME_HINT, SCHEDULE_ID, SCHEDULE_ID_HINT, textProblem } from '../contracts/names';
import { parseCron } from '../contracts/cron';
import { parseDuration } from '../contracts/durations';
import { readInstant } from '../contracts/instants';

/**
 * Parsers for the CLI's flags, as commander's argParser: each returns the value or throws
 * InvalidArgumentError, which commander prints naming the flag (`option '--from <date>' argument
 * '2026-02-31' is invalid. ...`) before exiting with status 1. The rules are the workflows' own.
 */

/** A whole number written in plain decimal (`0x10`, `1e3`, `+5`, ` 5` are refused), from min to max. */
export function wholeNumberArg(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^(0|[1-9]\d{0,8})$/.test(value))
      throw new InvalidArgumentError(`expected a whole number in plain decimal digits, from ${min} to ${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/** An ISO-8601 date or date-time that exists in the calendar, from 2000 to 2100; kept as written. */
export function instantArg(value: string): string {
  const read = readInstant(value);
  if ('problem' in read) throw new InvalidArgumentError(read.problem);
  return value;
}

export function connectionArg(value: string): string {
  if (!CONNECTION_NAME.test(value)) throw new InvalidArgumentError(CONNECTION_NAME_HINT);
  return value;
}

/** Repeatable `--connection`: each checked, collected in order. */
export function connectionListArg(value: string, previous: string[] = []): string[] {
  return [...previous, connectionArg(value)];
}

export function scheduleIdArg(value: string): string {
  if (!SCHEDULE_ID.test(value)) throw new InvalidArgumentError(SCHEDULE_ID_HINT);
  return value;
}

/** Free text (`--by`, `--note`): no control characters, at most `max` characters. */
export function textArg(max: number): (value: string) => string {
  return (value) => {
    const problem = textProblem(value, max);
    if (problem) throw new InvalidArgumentError(problem);
    return value;
  };
}

/** A duration such as 10m within bounds; kept as written (schedules store the text). */
export function durationArg(bounds: { min: number; max: number }): (value: string) => string {
  return (value) => {
    try {
      parseDuration(value, 'duration', bounds);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message.replace(/^duration: /, ''));
    }
    return value;
  };
}

export function cronArg(value: string): string {
  try {
    parseCron(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^cron: /, ''));
  }
  return value;
}

/** A workflow id given back to the CLI (`export watch`): one line of text. */
export const workflowIdArg = textArg(400);
