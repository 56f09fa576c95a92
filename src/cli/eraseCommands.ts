import type { Command } from 'commander';
import { connectClient } from '../client/exports';
import { startErase, watchErase } from '../client/erasure';
import { connectionByName } from '../config/load';
import type { EraseResult, FileSelection, ObjectVersionRef, PlannedErasure } from '../contracts/erasure';
import { emptyEraseResult, tallyPlanned } from '../contracts/erasure';
import { ProvenanceStore } from '../provenance/store';
import type { ConfigSource } from './context';
import { ERASE_EXIT, ERASE_EXIT_HELP } from './exitCodes';
import { selectionFromOptions, withSelectionOptions, type SelectionOptions } from './fileSelection';

interface EraseOptions extends SelectionOptions {
  dryRun?: boolean;
  wait: boolean;
  json?: boolean;
}

/** `callvault erase`: erasure with proof, through the erase workflow; `--dry-run` plans here and deletes nothing. */
export function registerEraseCommands(program: Command, config: ConfigSource): void {
  withSelectionOptions(
    program
      .command('erase')
      .description(
        "delete every version of the selected files' objects (held or locked files are refused), leaving a tombstone per file that keeps it out of every later export",
      ),
  )
    .option('--dry-run', 'list what would be deleted or refused; delete nothing')
    .option('--no-wait', 'return once the erase workflow has started')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', ERASE_EXIT_HELP)
    .action(async (opts: EraseOptions) => {
      process.exitCode = await eraseCommand(config, opts);
    });
}

async function eraseCommand(config: ConfigSource, opts: EraseOptions): Promise<number> {
  const cfg = config();
  connectionByName(cfg, opts.connection); // fail here, naming it, before anything starts
  const selection = selectionFromOptions(opts);
  const result = opts.dryRun ? await dryRun(cfg, opts.connection, selection, opts.json === true) : await run(cfg, opts, selection);
  if (!result) return ERASE_EXIT.done;
  console.log(opts.json ? JSON.stringify(result, null, 2) : summaryLine(result));
  if (result.matched === 0) return ERASE_EXIT.nothingMatched;
  return result.refused > 0 ? ERASE_EXIT.refused : ERASE_EXIT.done;
}

/** Plans page by page with the workflow's own activity code, printing every file as it is planned. */
async function dryRun(cfg: ReturnType<ConfigSource>, connection: string, selection: FileSelection, json: boolean): Promise<EraseResult> {
  // Loaded when a dry run runs: the S3 SDK and the activity code are not the CLI's to load at start.
  const { eraserFor } = require('../../activities/erasure') as typeof import('../../activities/erasure');
  const { createS3Client } = require('../storage/s3') as typeof import('../storage/s3');
  const { ObjectStore } = require('../storage/objectStore') as typeof import('../storage/objectStore');
  const provenance = ProvenanceStore.connect(cfg.database.url, 2);
  const s3 = createS3Client(cfg.storage);
  try {
    const eraser = eraserFor({ provenance, store: new ObjectStore(s3, cfg.storage.bucket), config: cfg });
    const result = emptyEraseResult({ connection, dryRun: true });
    let after: string | null = null;
    do {
      const page = await eraser.page(connection, selection, after, 100);
      if (!json) for (const f of page.files) console.log(plannedLine(f));
      tallyPlanned(result, page.files);
      after = page.next;
    } while (after !== null);
    return result;
  } finally {
    await provenance.close();
    s3.destroy();
  }
}

async function run(cfg: ReturnType<ConfigSource>, opts: EraseOptions, selection: FileSelection): Promise<EraseResult | null> {
  const { client, close } = await connectClient(cfg);
  try {
    const handle = await startErase(client, cfg.temporal.taskQueue, {
      connection: opts.connection,
      ...selection,
      by: opts.by,
      reason: opts.reason,
    });
    console.error(`started erase ${handle.workflowId}`);
    if (!opts.wait) return null;
    let last = '';
    const result = await watchErase(handle, (p) => {
      const line = `erasing: ${p.matched} files so far, ${p.erased} erased, ${p.refused} refused`;
      if (line !== last) console.error(line);
      last = line;
    });
    if (!opts.json) {
      for (const f of result.files) console.log(`erased ${f.sourceId}: ${versionsText(f.objects)}`);
      for (const r of result.refusals) console.log(`refused ${r.sourceId}: ${r.reason}`);
    }
    return result;
  } finally {
    await close();
  }
}

function versionsText(objects: readonly ObjectVersionRef[]): string {
  if (objects.length === 0) return 'no object (a failed row: tombstone only)';
  return `${objects.length} object version(s): ${objects.map((o) => `${o.key}@${o.versionId}`).join(', ')}`;
}

function plannedLine(f: PlannedErasure): string {
  return f.refused
    ? `would refuse ${f.sourceId} (conversation ${f.conversationId}): ${f.refused}`
    : `would erase ${f.sourceId} (conversation ${f.conversationId}): ${versionsText(f.objects)}`;
}

function summaryLine(r: EraseResult): string {
  const verb = r.dryRun ? 'would erase' : 'erased';
  const listed = r.dryRun
    ? ''
    : r.files.length < r.erased || r.refusals.length < r.refused
      ? ' (the first 100 of each are listed; provenance has every tombstone)'
      : '';
  return `${r.connection}: ${r.matched} files matched, ${verb} ${r.erased} (${r.versionsDeleted} object versions), refused ${r.refused}${r.gone ? `, ${r.gone} erased before` : ''}${listed}`;
}
