#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=50 --expose-gc
import { Command } from 'commander';
import { loadConfig } from '../config/load';
import { errorMessage } from '../contracts/failures';
import { secretsResolvedBy } from '../secrets';
import { registerDemoCommand } from './demoCommand';
import { registerEraseCommands } from './eraseCommands';
import { registerExportCommands } from './exportCommands';
import { registerHoldCommands } from './holdCommands';
import { registerRetentionCommands } from './retentionCommands';
import { registerScheduleCommands } from './scheduleCommands';
import { registerServiceCommands } from './serviceCommands';
import { registerSetupCommands } from './setupCommands';
import { reexecWorkerWithFlags } from './nodeFlags';

// The AWS SDK's 8-line notice that its releases after January 2027 need Node 22 would open every
// command; callvault pins the SDK's version. Set before any S3 client exists (the notice is given
// at the first). An explicit setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * `callvault`: one entry point for operators and for the worker process (`callvault worker`).
 * Command groups register themselves; each loads the code it runs when it runs.
 */
const program = new Command('callvault')
  .description('Export call recordings and attachments from contact-center platforms into S3, durably, with provenance.')
  .option('-c, --config <file>', 'configuration file (default: $CALLVAULT_CONFIG or ./callvault.config.json)')
  .showHelpAfterError()
  // Messages about a missing secret name the process that looked for it.
  .hook('preAction', (_program, action) => secretsResolvedBy(action.name() === 'worker' ? 'worker' : 'CLI'));

const configPath = () => program.opts<{ config?: string }>().config;
const config = () => loadConfig({ path: configPath() });

registerServiceCommands(program, config, configPath);
registerExportCommands(program, config);
registerDemoCommand(program);
registerScheduleCommands(program, config);
registerRetentionCommands(program, config);
registerSetupCommands(program, config);
registerHoldCommands(program, config);
registerEraseCommands(program, config);

if (!reexecWorkerWithFlags()) {
  program.parseAsync(process.argv).catch((err: unknown) => {
    console.error(`callvault: ${errorMessage(err)}`);
    process.exit(1);
  });
}
