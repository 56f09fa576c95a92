import { Context } from '@temporalio/activity';
import { connectionByName } from '../src/config/load';
import type { ConnectionConfig } from '../src/config/schema';
import { TransientError, UnavailableError } from '../src/errors';
import { FINAL_FAILURE_CODES, type UnavailableReason } from '../src/contracts/failures';
import type { Execution, FileState, StoredFileRecord } from '../src/provenance/store';
import type { Provider } from '../src/providers/types';
import type { SourceItem } from '../src/contracts/sourceItem';
import { manifestKey, objectKey } from '../src/storage/keys';
import { manifestEntry } from '../src/storage/manifests';
import { transferFile, type StoredObject, type TransferCheckpoint } from '../src/transfer/transferFile';
import { Bookkeeping } from './bookkeeping';
import type { ActivityDeps } from './deps';
import { currentExecution } from './execution';
import { WorkerDraining, toActivityFailure } from './failures';
import { livenessHeartbeat, type LivenessHeartbeat } from './heartbeat';
import { TransferMetrics } from './metrics';
import type { GivenUpRecorded, ItemResult, RecordFailuresInput, TransferBatchInput, TransferTask } from '../src/contracts/transfer';
import { MiB } from '../src/contracts/units';
import { FAILURE_REASON_MAX, clip } from '../src/contracts/exportFailures';

/**
 * Stored files per manifest and INSERT. A group is also written once it stands for one part's
 * worth of transfers, so a crash costs the next attempt at most that much fetched again.
 */
const FILES_PER_MANIFEST = 32;
/** Bumped when the manifest's shape changes incompatibly. */
const MANIFEST_VERSION = 1;

export function transferActivities(deps: ActivityDeps) {
  return {
    /**
     * Transfers a few files, one after the other, heartbeating per part. A retried attempt
     * takes the files provenance already has from their rows, and resumes or adopts what an
     * earlier attempt left. A file counts as stored once its manifest entry and provenance row are
     * written; they are written on every way out of the activity that lets code run.
     */
    async transferBatch(input: TransferBatchInput): Promise<ItemResult[]> {
      try {
        const batch = new BatchTransfer(deps, input);
        return await batch.run();
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Failure rows for files the export gave up on; never overwrites a stored row or the platform's final word. */
    async recordFailures(input: RecordFailuresInput): Promise<GivenUpRecorded> {
      try {
        const recorded = await recordGivenUp(deps, input);
        const conn = connectionByName(deps.config, input.connection);
        new TransferMetrics(Context.current().metricMeter, { connection: conn.name, provider: conn.provider }).gaveUp(recorded.recorded);
        return recorded;
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}

/** What one file's try moved: bytes received (from the platform, or read back), and bytes it added to the store. */
interface Moved {
  received: number;
  added: number;
}

/** One attempt of a transfer batch: the files in order, their results, the bookkeeping behind them. */
class BatchTransfer {
  private readonly ctx = Context.current();
  private readonly exec: Execution;
  private readonly conn: ConnectionConfig;
  private readonly provider: Provider;
  private readonly alive: LivenessHeartbeat;
  private readonly bookkeeping: Bookkeeping;
  private readonly metrics: TransferMetrics;
  private checkpoint: TransferCheckpoint | undefined;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly input: TransferBatchInput,
  ) {
    this.exec = { ...currentExecution(), exportRun: input.exportRun };
    this.conn = connectionByName(deps.config, input.connection);
    this.provider = deps.providerFor(this.conn.name);
    this.alive = livenessHeartbeat(this.ctx);
    this.checkpoint = this.ctx.info.heartbeatDetails as TransferCheckpoint | undefined;
    const policy = this.conn.archive;
    const manifestStore = {
      putJson: (key: string, value: unknown, signal?: AbortSignal) => deps.store.putJson(key, value, signal, policy),
    };
    this.bookkeeping = new Bookkeeping(manifestStore, deps.provenance, this.manifests(), {
      files: FILES_PER_MANIFEST,
      bytes: deps.config.storage.partSizeMiB * MiB,
    });
    this.metrics = new TransferMetrics(this.ctx.metricMeter, { connection: this.conn.name, provider: this.conn.provider });
  }

  async run(): Promise<ItemResult[]> {
    const ids = this.input.tasks.map((t) => t.item.sourceId);
    const known = await this.deps.provenance.fileStates(this.conn.name, ids);
    const results: ItemResult[] = [];
    try {
      for (const task of this.input.tasks) {
        this.handBackIfDraining(results.length);
        results.push(await this.measured(task, known.get(task.item.sourceId)));
      }
    } catch (err) {
      // Whatever stops the batch, the files it stored get their rows if Postgres answers; if it
      // does not, the next attempt finds the objects and adopts them.
      await this.bookkeeping.drain().catch(() => undefined);
      if (err instanceof WorkerDraining) this.logHandBack(err);
      throw err;
    }
    await this.bookkeeping.drain();
    return results;
  }

  /** A stopping worker starts no further file, and no further part of the one it is on. */
  private handBackIfDraining(done: number): void {
    if (!this.deps.draining?.aborted) return;
    throw new WorkerDraining(done, this.input.tasks.length - done, this.input.tasks.length);
  }

  /**
   * Said once the batch has stopped, not where the stop was noticed: the parts a file had in
   * flight are stored and checkpointed in between, and the checkpoint logged is the one the
   * successor resumes from.
   */
  private logHandBack(stop: WorkerDraining): void {
    this.ctx.log.info('worker stopping: handing the rest of the batch back', {
      connection: this.conn.name,
      filesDone: stop.filesDone,
      filesLeft: stop.filesLeft,
      ...(this.checkpoint ? { checkpoint: this.checkpoint } : {}),
    });
  }

  /** One file's try, and its metrics: outcome, duration, bytes stored or received in vain. */
  private async measured(task: TransferTask, known: FileState | undefined): Promise<ItemResult> {
    const started = performance.now();
    const moved: Moved = { received: 0, added: 0 };
    try {
      const result = await this.one(task, known, moved);
      // A file stored by an earlier attempt was counted by it.
      if (known?.status !== 'stored' || result.outcome !== 'stored') {
        this.metrics.tried(result, (performance.now() - started) / 1000, result.outcome === 'stored' ? moved.added : moved.received);
      }
      return result;
    } finally {
      this.metrics.flush();
    }
  }

  private async one(task: TransferTask, known: FileState | undefined, moved: Moved): Promise<ItemResult> {
    const { item } = task;
    const sourceId = item.sourceId;
    const ours = known?.exportRun === this.input.exportRun;
    // Erased while this batch waited (the listing leaves erased files out): never fetched again.
    if (known?.status === 'erased') return { sourceId, outcome: 'already_stored' };
    if (known?.status === 'stored') {
      // Stored by an earlier attempt of this export (whose result was lost) counts as this export's work.
      return ours
        ? { sourceId, outcome: 'stored', bytes: known.size ?? 0, ...(await this.revealed(item)) }
        : { sourceId, outcome: 'already_stored' };
    }
    if (ours && known?.failureCode && FINAL_FAILURE_CODES.includes(known.failureCode)) {
      return {
        sourceId,
        outcome: 'unavailable',
        reason: known.failureReason ?? known.failureCode,
        code: known.failureCode as UnavailableReason,
      };
    }
    const startedAt = new Date();
    try {
      const outcome = await transferFile({
        provider: this.provider,
        store: this.deps.store,
        item,
        keyFor: (extension) => this.keyOf(item, extension),
        baseMetadata: { provider: this.conn.provider, connection: this.conn.name, 'source-id': encodeURIComponent(sourceId) },
        ...(this.conn.archive ? { policy: this.conn.archive } : {}),
        partSize: this.deps.config.storage.partSizeMiB * MiB,
        checkpoint: this.checkpoint,
        retrying: task.tries > 0 || this.ctx.info.attempt > 1,
        signal: this.ctx.cancellationSignal,
        onCheckpoint: (cp) => {
          this.checkpoint = cp;
          this.alive.checkpoint(cp);
        },
        beforePart: () => this.handBackIfDraining(this.input.tasks.findIndex((t) => t.item.sourceId === sourceId)),
        onBytes: (n) => {
          moved.received += n;
          this.metrics.moved(n);
          this.alive.beat(this.checkpoint);
        },
      });
      if (outcome.kind === 'not_ready')
        return { sourceId, outcome: 'not_ready', reason: outcome.reason, retryAfterSeconds: outcome.retryAfterSeconds };
      moved.added = outcome.object.size - outcome.object.resumedFromByte;
      const record = this.storedRecord(item, outcome.object, startedAt);
      await this.bookkeeping.add(manifestEntry(record), record);
      this.alive.beat(this.checkpoint);
      return { sourceId, outcome: 'stored', bytes: outcome.object.size, ...(await this.fresh(outcome.siblings)) };
    } catch (err) {
      if (err instanceof UnavailableError) {
        await this.deps.provenance.recordFailed({
          ...this.source(item),
          code: err.reason,
          reason: err.message,
          startedAt,
          finishedAt: new Date(),
        });
        return { sourceId, outcome: 'unavailable', reason: err.message, code: err.reason };
      }
      if (err instanceof TransientError) {
        const retryAfterSeconds = err.retryAfterMs !== undefined ? Math.ceil(err.retryAfterMs / 1000) : undefined;
        return { sourceId, outcome: 'retry', reason: err.message, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) };
      }
      throw err;
    }
  }

  /** For a file stored earlier: what its download revealed then (a stand-in's siblings), asked again. */
  private async revealed(item: SourceItem): Promise<Pick<Extract<ItemResult, { outcome: 'stored' }>, 'discovered' | 'discoveredStored'>> {
    if (!this.provider.revealedBy) return {};
    return this.fresh(await this.provider.revealedBy(item, this.ctx.cancellationSignal));
  }

  /** Revealed files minus those this export already has; files other exports stored are only counted. */
  private async fresh(
    siblings: SourceItem[],
  ): Promise<Pick<Extract<ItemResult, { outcome: 'stored' }>, 'discovered' | 'discoveredStored'>> {
    if (siblings.length === 0) return {};
    const known = await this.deps.provenance.fileStates(
      this.conn.name,
      siblings.map((s) => s.sourceId),
    );
    const discovered = siblings.filter(
      (s) =>
        known.get(s.sourceId) === undefined ||
        (known.get(s.sourceId)!.status === 'failed' && known.get(s.sourceId)!.exportRun !== this.input.exportRun),
    );
    const discoveredStored = siblings.filter(
      (s) => known.get(s.sourceId)?.status === 'stored' && known.get(s.sourceId)!.exportRun !== this.input.exportRun,
    ).length;
    return { ...(discovered.length > 0 ? { discovered } : {}), ...(discoveredStored > 0 ? { discoveredStored } : {}) };
  }

  private keyOf(item: SourceItem, extension: string): string {
    return objectKey({
      prefix: this.deps.config.storage.prefix,
      provider: this.conn.provider,
      connection: this.conn.name,
      createdAt: item.createdAt,
      conversationId: item.conversationId,
      sourceId: item.sourceId,
      originalName: item.originalName,
      extension,
    });
  }

  private manifests() {
    const { exec, conn, deps, ctx } = this;
    return {
      keyFor: (seq: number, writtenAt: Date) =>
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
      header: {
        manifest: MANIFEST_VERSION,
        provider: conn.provider,
        connection: conn.name,
        bucket: deps.store.bucket,
        export: exec,
        exportRun: exec.exportRun,
      },
    };
  }

  private source(item: SourceItem) {
    return { provider: this.conn.provider, connection: this.conn.name, item, execution: this.exec };
  }

  private storedRecord(item: SourceItem, object: StoredObject, startedAt: Date): StoredFileRecord {
    return {
      ...this.source(item),
      sourceUrl: object.sourceUrl,
      bucket: this.deps.store.bucket,
      objectKey: object.key,
      versionId: object.versionId,
      etag: object.etag,
      size: object.size,
      sha256: object.sha256,
      contentType: object.contentType,
      startedAt,
      finishedAt: new Date(),
    };
  }
}

/**
 * Writes the give-up rows. A file stored after all (its row exists) is counted instead, and an
 * unfinished upload a given-up file left is aborted: nothing invisible is left to cost money.
 */
async function recordGivenUp(deps: ActivityDeps, input: RecordFailuresInput): Promise<GivenUpRecorded> {
  const conn = connectionByName(deps.config, input.connection);
  const execution: Execution = { ...currentExecution(), exportRun: input.exportRun };
  const known = await deps.provenance.fileStates(
    conn.name,
    input.failures.map((f) => f.item.sourceId),
  );
  const out: Required<GivenUpRecorded> = { recorded: 0, storedByThisExport: 0, bytes: 0, failed: [] };
  const now = new Date();
  for (const failure of input.failures) {
    const state = known.get(failure.item.sourceId);
    if (state?.status === 'erased') continue;
    if (state?.status === 'stored') {
      if (state.exportRun === input.exportRun) {
        out.storedByThisExport++;
        out.bytes += state.size ?? 0;
      }
      continue;
    }
    const wrote = await deps.provenance.recordFailed({
      provider: conn.provider,
      connection: conn.name,
      item: failure.item,
      code: failure.code,
      reason: failure.reason,
      execution,
      startedAt: now,
      finishedAt: now,
    });
    // Counted either way: a final status this export recorded earlier stays, and is this file's failure.
    if (wrote || state?.exportRun === input.exportRun) {
      out.recorded++;
      const kept = !wrote && state?.failureCode ? { code: state.failureCode, reason: state.failureReason ?? state.failureCode } : failure;
      out.failed.push({ sourceId: failure.item.sourceId, code: kept.code, reason: clip(kept.reason, FAILURE_REASON_MAX) });
    }
    await abortUploadsOf(deps, conn, failure.item);
  }
  return out;
}

async function abortUploadsOf(deps: ActivityDeps, conn: ConnectionConfig, item: SourceItem): Promise<void> {
  const stem = objectKey({
    prefix: deps.config.storage.prefix,
    provider: conn.provider,
    connection: conn.name,
    createdAt: item.createdAt,
    conversationId: item.conversationId,
    sourceId: item.sourceId,
    originalName: item.originalName,
    extension: '',
  });
  for (const upload of await deps.store.findUploadsUnder(stem)) {
    if (upload.key === stem || /^\.[a-z0-9]{1,8}$/.test(upload.key.slice(stem.length)))
      await deps.store.abortUpload(upload.key, upload.uploadId);
  }
}
