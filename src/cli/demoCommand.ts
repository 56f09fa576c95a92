import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from 'commander';

/**
 * `callvault demo`. The demo, the dev stack and the simulators are loaded only when it runs: the
 * same CLI starts production workers (`callvault worker`), which must never load them.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start the embedded stack (Temporal + UI, SeaweedFS, simulators, a worker) and export from all three simulators')
    .option('--data-dir <dir>', 'where the stack keeps its state (default: .data/demo in the checkout)')
    .option('--keep-running', 'keep the stack up after the exports until Ctrl-C (default on a terminal)', process.stdout.isTTY)
    .option('--no-keep-running', 'stop the stack as soon as the exports end')
    .option(
      '--database-name <name>',
      "provenance database on the DATABASE_URL server, created when missing (default: callvault_demo_ and a hash of this checkout's path)",
    )
    .action(async (opts: { dataDir?: string; keepRunning: boolean; databaseName?: string }) => {
      // Loaded here, not at the top: see the comment above.
      const { runDemo } = require('../demo/demo') as typeof import('../demo/demo');
      const { repoRoot } = require('../devstack/tools') as typeof import('../devstack/tools');
      const root = repoRoot();
      await runDemo({
        dataDir: opts.dataDir ?? join(root, '.data', 'demo'),
        keepRunning: opts.keepRunning,
        databaseName: opts.databaseName ?? checkoutDatabaseName(root),
      });
    });
}

/** One demo database per checkout, so two clones never share (or clobber) each other's provenance. */
export function checkoutDatabaseName(checkoutPath: string): string {
  return `callvault_demo_${createHash('sha256').update(checkoutPath).digest('hex').slice(0, 12)}`;
}
