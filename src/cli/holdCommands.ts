import type { Command } from 'commander';
import type { HoldLine, HoldSummary } from '../../activities/holds';
import { connectionByName } from '../config/load';
import { ProvenanceStore } from '../provenance/store';
import type { ConfigSource } from './context';
import { ERASE_EXIT, ERASE_EXIT_HELP } from './exitCodes';
import { selectionFromOptions, withSelectionOptions, type SelectionOptions } from './fileSelection';

interface HoldOptions extends SelectionOptions {
  json?: boolean;
}

/** `callvault hold set|release`: legal holds, in provenance and, where the bucket has Object Lock, in the store. */
export function registerHoldCommands(program: Command, config: ConfigSource): void {
  const hold = program.command('hold').description('legal holds: a held file is never erased');
  for (const action of ['set', 'release'] as const) {
    withSelectionOptions(
      hold
        .command(action)
        .description(action === 'set' ? 'put a legal hold on the selected files' : 'release the legal hold on the selected files'),
    )
      .option('--json', 'print one JSON line per file and the summary')
      .addHelpText('after', ERASE_EXIT_HELP)
      .action(async (opts: HoldOptions) => {
        process.exitCode = await holdCommand(config, action, opts);
      });
  }
}

async function holdCommand(config: ConfigSource, action: 'set' | 'release', opts: HoldOptions): Promise<number> {
  const cfg = config();
  connectionByName(cfg, opts.connection);
  const selection = selectionFromOptions(opts);
  // Loaded when the command runs (the S3 SDK), like verify.
  const { Holds } = require('../../activities/holds') as typeof import('../../activities/holds');
  const { createS3Client } = require('../storage/s3') as typeof import('../storage/s3');
  const { ObjectVersions } = require('../storage/versions') as typeof import('../storage/versions');
  const provenance = ProvenanceStore.connect(cfg.database.url, 2);
  const s3 = createS3Client(cfg.storage);
  try {
    const holds = new Holds(provenance.compliance, new ObjectVersions(s3, cfg.storage.bucket));
    const print = (line: HoldLine) => console.log(opts.json ? JSON.stringify(line) : holdLine(line));
    const who = { by: opts.by, reason: opts.reason };
    const summary =
      action === 'set'
        ? await holds.set(opts.connection, selection, who, print)
        : await holds.release(opts.connection, selection, who, print);
    console.log(opts.json ? JSON.stringify(summary) : summaryLine(action, opts.connection, summary));
    return summary.matched === 0 ? ERASE_EXIT.nothingMatched : ERASE_EXIT.done;
  } finally {
    await provenance.close();
    s3.destroy();
  }
}

const OUTCOME_TEXT: Record<HoldLine['outcome'], string> = {
  held: 'held',
  already_held: 'already held',
  released: 'released',
  not_held: 'not held',
};

function holdLine(l: HoldLine): string {
  return `${OUTCOME_TEXT[l.outcome]} ${l.sourceId} (conversation ${l.conversationId})${l.storeVersions ? `, store legal hold on ${l.storeVersions} version(s)` : ''}`;
}

function summaryLine(action: 'set' | 'release', connection: string, s: HoldSummary): string {
  const changed = action === 'set' ? 'held' : 'released';
  const unchanged = action === 'set' ? 'already held' : 'not held';
  const store = s.storeLock
    ? `the store's legal hold ${action === 'set' ? 'set' : 'cleared'} on ${s.storeVersions} object version(s)`
    : 'the bucket has no Object Lock: the hold is kept in provenance, which erase obeys';
  return `${connection}: ${s.matched} files matched, ${s.changed} ${changed}, ${s.unchanged} ${unchanged}; ${store}`;
}
