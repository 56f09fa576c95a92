import type { NativeConnection } from '@temporalio/worker';
import { checkSearchAttributes, isComplete, searchAttributeProblem } from '../client/searchAttributes';
import { ConfigurationError } from '../errors';
import { whenReachable } from './reachable';

/**
 * A workflow worker starts only where the exports' search attributes exist: upserting one the
 * server does not know fails every workflow task, and the export would hang without a word. The
 * refusal names what is missing and the command that registers it.
 */
export async function requireSearchAttributes(connection: NativeConnection, namespace: string, say: (line: string) => void): Promise<void> {
  const check = await whenReachable(
    `Temporal's search attributes of namespace ${namespace}`,
    () => checkSearchAttributes(connection, namespace),
    say,
  );
  if (!isComplete(check)) throw new ConfigurationError(searchAttributeProblem(check));
}
