import { Context } from '@temporalio/activity';
import type { FileState } from '../src/provenance/store';
import type { SourceItem } from '../src/contracts/sourceItem';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './failures';
import type { ListPageInput, ListPageResult } from '../src/contracts/listing';

/**
 * A platform call of a listing page is retried this often in place before the page gives up
 * (ending early with what it has, or failing the activity). Kore's shared quota answers 429 to
 * any call whatever our pace; at a 15% fault rate five tries leave one call in 13,000 failing.
 */
const LISTING_CALL_TRIES = 5;
const KEEPALIVE_MS = 5_000;
/** Longest in-place wait; Dixa's exports API may ask for a minute. */
const LISTING_MAX_WAIT_MS = 90_000;

export function listActivities(deps: ActivityDeps) {
  return {
    /**
     * One page of the provider's listing, minus what provenance already has: a rerun fetches
     * nothing twice, and a page that repeats files of an earlier page (platforms page over data
     * that moves) leaves out the ones this export already counted.
     */
    async listPage(input: ListPageInput): Promise<ListPageResult> {
      const ctx = Context.current();
      // A page may take minutes (a paced Kore page, a large Dixa export): heartbeat throughout, so
      // the workflow's short heartbeat timeout finds a page whose worker died, or whose completion
      // a Temporal restart lost, in seconds rather than at the end of the page's whole timeout.
      const keepAlive = setInterval(() => ctx.heartbeat(), KEEPALIVE_MS);
      try {
        const provider = deps.providerFor(input.connection);
        const page = await provider.listPage(input.window, input.cursor, {
          signal: ctx.cancellationSignal,
          retry: {
            tries: LISTING_CALL_TRIES,
            maxWaitMs: LISTING_MAX_WAIT_MS,
            signal: ctx.cancellationSignal,
            onWait: (waitMs, reason) => ctx.heartbeat({ waitingMs: waitMs, reason: reason.slice(0, 200) }),
          },
          memory: {
            counts: (ids) => deps.provenance.listingCounts(input.connection, ids),
            remember: (id, files) => deps.provenance.rememberListingCount(input.connection, id, files),
          },
        });
        const unique = dedupe(page.items);
        const known = await deps.provenance.fileStates(
          input.connection,
          unique.map((i) => i.sourceId),
        );
        return { ...classify(unique, known, input.exportRun), nextCursor: page.nextCursor };
      } catch (err) {
        throw toActivityFailure(err);
      } finally {
        clearInterval(keepAlive);
      }
    },
  };
}

/** Fresh files to transfer, files an earlier export stored or an erasure erased, and (dropped) files this export has seen. */
export function classify(
  items: readonly SourceItem[],
  known: ReadonlyMap<string, FileState>,
  exportRun: string,
): Omit<ListPageResult, 'nextCursor'> {
  const fresh: SourceItem[] = [];
  const alreadyStored: string[] = [];
  for (const item of items) {
    const state = known.get(item.sourceId);
    if (state?.exportRun === exportRun) continue;
    // An erased file is never fetched again; it counts as skipped, like a stored one.
    if (state?.status === 'stored' || state?.status === 'erased') alreadyStored.push(item.sourceId);
    else fresh.push(item);
  }
  return { items: fresh, alreadyStored };
}

/** A page that names the same file twice must not schedule two transfers of it. */
function dedupe(items: SourceItem[]): SourceItem[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(i.sourceId) && seen.add(i.sourceId));
}
