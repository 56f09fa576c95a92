import { Context } from '@temporalio/activity';
import { connectionByName } from '../src/config/load';
import type { ConnectionConfig } from '../src/config/schema';
import { UnavailableError } from '../src/errors';
import type { FailureCode, StoredFileRecord } from '../src/provenance/store';
import type { SourceItem } from '../src/providers/types';
import { manifestKey, objectKey } from '../src/storage/keys';
import { manifestEntry } from '../src/storage/manifests';
import { transferFile, type StoredObject, type TransferCheckpoint } from '../src/transfer/transferFile';
import { Bookkeeping } from './bookkeeping';
import type { ActivityDeps } from './deps';
import { currentExecution } from './execution';
import { toActivityFailure } from './failures';

const MiB = 1024 * 1024;
/**
 * Stored files per manifest and INSERT. A group is also written once it stands for one part's
 * worth of transfers, so a crash costs the next attempt at most that much fetched again.
 */
const FILES_PER_MANIFEST = 32;
/** Bumped when the manifest's shape changes incompatibly. */
const MANIFEST_VERSION = 1;

export interface TransferBatchInput {
  connection: string;
  items: SourceItem[];
}

export type ItemResult =
  /** `discovered`: files this one revealed that the listing could not see (see DownloadOutcome). */
  | { sourceId: string; outcome: 'stored'; bytes: number; discovered?: SourceItem[] }
  /** Stored before, by another export: nothing fetched. */
  | { sourceId: string; outcome: 'already_stored' }
  | { sourceId: string; outcome: 'not_ready'; reason: string; retryAfterSeconds: number }
  /** Gone for good; a failure row with the reason is in provenance. */
  | { sourceId: string; outcome: 'unavailable'; reason: string };

export interface RecordFailuresInput {
  connection: string;
  items: SourceItem[];
  code: FailureCode;
  reason: string;
}

/** How often a transfer says it is alive between checkpoints: often enough for any heartbeat timeout. */
const LIVENESS_INTERVAL_MS = 1_000;

/**
 * Heartbeats for one transfer activity. Checkpoints (one per stored part) always go out: the next
 * attempt resumes from them. "Still alive" heartbeats (bytes flowing, a file done) go out at most
 * once per second (a quarter of the heartbeat timeout if that is shorter), and not at all in an
 * activity that finishes sooner: each one costs the worker a payload encoding and the server a
 * write, and a batch of small files used to send one per 64 KiB chunk and per file.
 */
function livenessHeartbeat(ctx: Context): { beat(details: unknown): void; checkpoint(details: TransferCheckpoint): void } {
  const interval = Math.min(LIVENESS_INTERVAL_MS, (ctx.info.heartbeatTimeoutMs || Infinity) / 4);
  let last = Date.now();
  return {
    beat(details) {
      const now = Date.now();
      if (now - last < interval) return;
      last = now;
      ctx.heartbeat(details);
    },
    checkpoint(details) {
      last = Date.now();
      ctx.heartbeat(details);
    },
  };
}

export function transferActivities(deps: ActivityDeps) {
  return {
    /**
     * Transfers a few files, one after the other, heartbeating per part and per file. A retried
     * attempt skips the files provenance already has and resumes the one it was in the middle of.
     * A file counts as stored only once its manifest entry and provenance row are written.
     */
    async transferBatch(input: TransferBatchInput): Promise<ItemResult[]> {
      const ctx = Context.current();
      const exec = currentExecution();
      try {
        const conn = connectionByName(deps.config, input.connection);
        const provider = deps.providerFor(conn.name);
        const stored = await deps.provenance.storedSources(
          conn.name,
          input.items.map((i) => i.sourceId),
        );
        let checkpoint = ctx.info.heartbeatDetails as TransferCheckpoint | undefined;
        const alive = livenessHeartbeat(ctx);
        const results: ItemResult[] = [];
        const partSize = deps.config.storage.partSizeMiB * MiB;
        const bookkeeping = new Bookkeeping(
          deps.store,
          deps.provenance,
          {
            keyFor: (seq, writtenAt) =>
              manifestKey({
                prefix: deps.config.storage.prefix,
                provider: conn.provider,
                connection: conn.name,
                writtenAt: writtenAt.toISOString(),
                workflowId: exec.workflowId,
                runId: exec.runId,
                activityId: ctx.info.activityId,
                attempt: exec.attempt,
                seq,
              }),
            header: { manifest: MANIFEST_VERSION, provider: conn.provider, connection: conn.name, bucket: deps.store.bucket, export: exec },
          },
          { files: FILES_PER_MANIFEST, bytes: partSize },
        );
        for (const item of input.items) {
          const prior = stored.get(item.sourceId);
          if (prior) {
            // Stored by an earlier attempt of this very export counts as this export's work.
            results.push(
              prior.workflowId === exec.workflowId
                ? { sourceId: item.sourceId, outcome: 'stored', bytes: prior.size }
                : { sourceId: item.sourceId, outcome: 'already_stored' },
            );
            continue;
          }
          const startedAt = new Date();
          const keyFor = (extension: string) =>
            objectKey({
              prefix: deps.config.storage.prefix,
              provider: conn.provider,
              connection: conn.name,
              createdAt: item.createdAt,
              conversationId: item.conversationId,
              sourceId: item.sourceId,
              originalName: item.originalName,
              extension,
            });
          try {
            const outcome = await transferFile({
              provider,
              store: deps.store,
              item,
              keyFor,
              baseMetadata: { provider: conn.provider, connection: conn.name, 'source-id': encodeURIComponent(item.sourceId) },
              partSize,
              checkpoint,
              // A first attempt cannot have left an upload of its own: look one up only for files that need multipart.
              uploadLookup: ctx.info.attempt > 1 ? 'before-download' : 'if-multipart',
              signal: ctx.cancellationSignal,
              onCheckpoint: (cp) => {
                checkpoint = cp;
                alive.checkpoint(cp);
              },
              onBytes: () => alive.beat(checkpoint),
            });
            if (outcome.kind === 'not_ready') {
              results.push({ sourceId: item.sourceId, outcome: 'not_ready', reason: outcome.reason, retryAfterSeconds: outcome.retryAfterSeconds });
              continue;
            }
            const record = storedRecord(conn, item, outcome.object, startedAt);
            await bookkeeping.add(manifestEntry(record), record);
            results.push({
              sourceId: item.sourceId,
              outcome: 'stored',
              bytes: outcome.object.size,
              ...(outcome.siblings.length > 0 ? { discovered: outcome.siblings } : {}),
            });
            alive.beat(checkpoint);
          } catch (err) {
            if (!(err instanceof UnavailableError)) throw err;
            await deps.provenance.recordFailed({
              provider: conn.provider,
              connection: conn.name,
              item,
              code: err.reason,
              reason: err.message,
              execution: exec,
              startedAt,
              finishedAt: new Date(),
            });
            results.push({ sourceId: item.sourceId, outcome: 'unavailable', reason: err.message });
          }
        }
        await bookkeeping.drain();
        return results;
      } catch (err) {
        throw toActivityFailure(err, input.connection);
      }

      function storedRecord(conn: ConnectionConfig, item: SourceItem, object: StoredObject, startedAt: Date): StoredFileRecord {
        return {
          provider: conn.provider,
          connection: conn.name,
          item,
          sourceUrl: object.sourceUrl,
          bucket: deps.store.bucket,
          objectKey: object.key,
          versionId: object.versionId,
          etag: object.etag,
          size: object.size,
          sha256: object.sha256,
          contentType: object.contentType,
          execution: exec,
          startedAt,
          finishedAt: new Date(),
        };
      }
    },

    /** Failure rows for files whose transfer gave up; never overwrites a stored row. Returns how many it recorded. */
    async recordFailures(input: RecordFailuresInput): Promise<{ recorded: number; storedByThisExport: number; bytes: number }> {
      const conn = connectionByName(deps.config, input.connection);
      const exec = currentExecution();
      const stored = await deps.provenance.storedSources(
        conn.name,
        input.items.map((i) => i.sourceId),
      );
      let recorded = 0;
      let storedByThisExport = 0;
      let bytes = 0;
      const now = new Date();
      for (const item of input.items) {
        const prior = stored.get(item.sourceId);
        if (prior) {
          if (prior.workflowId === exec.workflowId) {
            storedByThisExport++;
            bytes += prior.size;
          }
          continue;
        }
        const wrote = await deps.provenance.recordFailed({
          provider: conn.provider,
          connection: conn.name,
          item,
          code: input.code,
          reason: input.reason,
          execution: exec,
          startedAt: now,
          finishedAt: now,
        });
        if (wrote) recorded++;
      }
      return { recorded, storedByThisExport, bytes };
    },
  };
}

