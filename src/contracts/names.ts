/**
 * Rules for names, ids and free text that end up in task queues, workflow ids, object keys,
 * provenance rows and error messages. Kept free of Node imports: the workflow bundle validates its
 * inputs with them too, and the configuration and the CLI use the same rules.
 */
export const CONNECTION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const CONNECTION_NAME_HINT = 'use 1-63 lowercase letters, digits and dashes, starting with a letter or digit';

/**
 * Schedule ids (and task queue prefixes, which default schedule ids start with): no spaces,
 * slashes or control characters, so an id reads the same in the UI, a shell and a log line.
 */
export const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
export const SCHEDULE_ID_HINT = 'use 1-200 letters, digits, dots, dashes and underscores, starting with a letter or digit';

export const TASK_QUEUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const TASK_QUEUE_HINT = 'use 1-100 letters, digits, dots, dashes and underscores, starting with a letter or digit';

/**
 * Characters free text may not hold: C0 and C1 controls (NUL made Postgres refuse a row for ever),
 * line and paragraph separators, bidirectional overrides (text that displays other than it reads),
 * the byte order mark, and unpaired surrogates (not Unicode, so not storable as UTF-8).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_TEXT =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `value` is not acceptable free text of at most `max` characters, or undefined when it is. */
export function textProblem(value: string, max: number): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > max) return `at most ${max} characters`;
  if (UNSAFE_TEXT.test(value)) return 'control characters, unpaired surrogates and bidirectional overrides are not allowed';
  return undefined;
}

/** Text for an error message or a log line: bounded, with every unsafe character escaped as \uXXXX. */
export function escaped(value: string, max: number): string {
  const cut = value.length > max ? `${value.slice(0, max)}...` : value;
  return cut.replace(new RegExp(UNSAFE_TEXT.source, 'g'), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value quoted back in an error message. */
export function quoted(value: string, max = 40): string {
  return `'${escaped(value, max)}'`;
}

/** The task queues of one deployment: workflows and bookkeeping on the prefix, each connection's I/O on its own. */
export function taskQueues(prefix: string, connection: string): { list: string; transfer: string } {
  return { list: `${prefix}.${connection}.list`, transfer: `${prefix}.${connection}.transfer` };
}
