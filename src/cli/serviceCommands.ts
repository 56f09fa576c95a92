import { Option, type Command } from 'commander';
import { ProvenanceStore } from '../provenance/store';
import type { VerifyCommandOptions } from '../verify/command';
import { WORKER_ROLES, type WorkerRole } from '../worker/roles';
import type { ConfigSource } from './context';

/**
 * `callvault worker`, `migrate` and `verify`. Each loads what it runs only when it runs, so the
 * CLI starts fast and a worker process loads the worker, not the verifier (and the reverse).
 */
export function registerServiceCommands(program: Command, config: ConfigSource, configPath: () => string | undefined): void {
  program
    .command('worker')
    .description('run a worker: workflows, listing and transfers for every configured connection')
    .addOption(
      new Option('--role <role>', 'what to poll: all, or workflows / transfers to scale them apart')
        .choices(WORKER_ROLES)
        .env('CALLVAULT_WORKER_ROLE'),
    )
    .action(async (opts: { role?: WorkerRole }) => {
      const { runWorkerProcess } = require('../worker/main') as typeof import('../worker/main');
      await runWorkerProcess({ configPath: configPath(), role: opts.role });
    });

  program
    .command('migrate')
    .description('apply the provenance schema migrations to the configured database')
    .action(async () => {
      const provenance = ProvenanceStore.connect(config().database.url, 1);
      try {
        const applied = await provenance.migrate();
        console.log(applied.length ? `applied migrations ${applied.join(', ')}` : 'schema is up to date');
      } finally {
        await provenance.close();
      }
    });

  program
    .command('verify')
    .description(
      'check provenance and the bucket against each other: every stored row against its object (size, SHA-256, metadata, manifest), and every object for a stored row',
    )
    .option('--connection <name>', 'only this connection (default: every configured connection)')
    .option('--export <workflowId>', 'only files of this export: its rows, and objects its manifests or rows name')
    .option('--repair', 'adopt objects without a stored row whose size and SHA-256 match their manifest entry (writes rows, never deletes)')
    .option('--no-content', 'do not re-read objects to hash them: HEAD, metadata and manifests only')
    .option('--no-bucket', 'do not list the bucket for objects without a stored row')
    .option('--json', 'print the full report as one JSON document')
    .addHelpText('after', '\nExit codes: 0 clean, 1 problems remain (after --repair), 2 unknown connection or export, 3 could not finish.')
    .action(async (opts: VerifyCommandOptions) => {
      const { runVerifyCommand } = require('../verify/command') as typeof import('../verify/command');
      process.exitCode = await runVerifyCommand(config(), opts);
    });
}
