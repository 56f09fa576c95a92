import type { ProvenanceStore } from '../provenance/store';

/** One connection to verify: its rows in provenance and its folder in the bucket. */
export interface VerifyTarget {
  connection: string;
  /** Null when nothing says which provider it is (an export that failed before it knew): rows only, no folder to list. */
  provider: string | null;
  /** Only this export's rows, and the orphans its manifests or rows name. */
  workflowId?: string;
}

/** The user asked for a connection or export that does not exist. */
export class UnknownTargetError extends Error {
  override readonly name = 'UnknownTargetError';
}

export interface TargetRequest {
  /** The configured connections (name to provider); when absent, a named connection is looked up in provenance. */
  connections?: Readonly<Record<string, { provider: string }>>;
  connection?: string;
  workflowId?: string;
}

/**
 * What `verify` walks: every configured connection, or the one named, or the connection of the
 * named export. Anything named that does not exist is an UnknownTargetError naming it.
 */
export async function resolveTargets(
  provenance: Pick<ProvenanceStore, 'exportConnection' | 'connectionProvider'>,
  request: TargetRequest,
): Promise<VerifyTarget[]> {
  const configured = request.connections;
  const providerOf = (name: string) => (configured && Object.hasOwn(configured, name) ? configured[name]!.provider : null);
  if (request.connection !== undefined && configured && !Object.hasOwn(configured, request.connection)) {
    const known = Object.keys(configured).join(', ') || 'none';
    throw new UnknownTargetError(`unknown connection '${request.connection}' (configured: ${known})`);
  }
  if (request.workflowId !== undefined) {
    const found = await provenance.exportConnection(request.workflowId);
    if (!found)
      throw new UnknownTargetError(`unknown export '${request.workflowId}': provenance has no export or file with that workflow id`);
    if (request.connection !== undefined && request.connection !== found.connection) {
      throw new UnknownTargetError(
        `export '${request.workflowId}' belongs to connection '${found.connection}', not '${request.connection}'`,
      );
    }
    return [{ connection: found.connection, provider: found.provider ?? providerOf(found.connection), workflowId: request.workflowId }];
  }
  if (request.connection !== undefined) {
    if (configured) return [{ connection: request.connection, provider: providerOf(request.connection) }];
    const provider = await provenance.connectionProvider(request.connection);
    if (!provider) throw new UnknownTargetError(`unknown connection '${request.connection}': provenance has no file of it`);
    return [{ connection: request.connection, provider }];
  }
  if (!configured) throw new UnknownTargetError('name a connection or an export to verify');
  return Object.entries(configured).map(([connection, c]) => ({ connection, provider: c.provider }));
}
