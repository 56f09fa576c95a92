/**
 * Rules for names that end up in task queues, workflow ids and object keys. Kept free of Node
 * imports: the workflow bundle validates its input with them too.
 */
export const CONNECTION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const CONNECTION_NAME_HINT = 'use 1-63 lowercase letters, digits and dashes, starting with a letter or digit';

/** The task queues of one deployment: workflows and bookkeeping on the prefix, each connection's I/O on its own. */
export function taskQueues(prefix: string, connection: string): { list: string; transfer: string } {
  return { list: `${prefix}.${connection}.list`, transfer: `${prefix}.${connection}.transfer` };
}
