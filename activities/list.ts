import { Context } from '@temporalio/activity';
import type { ExportWindow, SourceItem } from '../src/providers/types';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './failures';

export interface ListPageInput {
  connection: string;
  window: ExportWindow;
  cursor: string | null;
}

export interface ListPageResult {
  /** Files not stored yet. */
  items: SourceItem[];
  /** Files on this page that provenance says are stored already. */
  alreadyStored: number;
  nextCursor: string | null;
}

export function listActivities(deps: ActivityDeps) {
  return {
    /** One page of the provider's listing, minus what is stored already: a rerun fetches nothing twice. */
    async listPage(input: ListPageInput): Promise<ListPageResult> {
      try {
        const provider = deps.providerFor(input.connection);
        const page = await provider.listPage(input.window, input.cursor, Context.current().cancellationSignal);
        const stored = await deps.provenance.storedSources(
          input.connection,
          page.items.map((i) => i.sourceId),
        );
        const fresh = dedupe(page.items).filter((i) => !stored.has(i.sourceId));
        return { items: fresh, alreadyStored: page.items.length - fresh.length, nextCursor: page.nextCursor };
      } catch (err) {
        throw toActivityFailure(err, input.connection);
      }
    },
  };
}

/** A page that names the same file twice must not schedule two transfers of it. */
function dedupe(items: SourceItem[]): SourceItem[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(i.sourceId) && seen.add(i.sourceId));
}
