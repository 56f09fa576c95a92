import type { Command } from 'commander';
import { connectClient } from '../client/exports';
import { checkSearchAttributes, isComplete, registerSearchAttributes, searchAttributeProblem, typeLabel } from '../client/searchAttributes';
import type { ConfigSource } from './context';

/**
 * `callvault setup temporal`: what a Temporal namespace needs before workers start, made once per
 * namespace on a production cluster (the dev stack does it at start): the exports' search attributes.
 */
export function registerSetupCommands(program: Command, config: ConfigSource): void {
  program
    .command('setup')
    .description('prepare a deployment once')
    .command('temporal')
    .description(
      "register the exports' search attributes on the configured namespace (idempotent; self-hosted clusters and the dev server)",
    )
    .option('--check', 'only check; exit 1 when something is missing')
    .addHelpText(
      'after',
      "\nTemporal Cloud does not take this call: add the attributes listed by --check in the namespace's settings, or with `tcld namespace search-attributes add`.",
    )
    .action((opts: { check?: boolean }) => setupTemporal(config, opts));
}

async function setupTemporal(config: ConfigSource, opts: { check?: boolean }): Promise<void> {
  const cfg = config();
  const namespace = cfg.temporal.namespace;
  const { client, close } = await connectClient(cfg);
  try {
    if (opts.check) {
      const check = await checkSearchAttributes(client.connection, namespace);
      if (isComplete(check)) return void console.log(`namespace ${namespace} has every search attribute callvault needs`);
      console.log(searchAttributeProblem(check));
      process.exitCode = 1;
      return;
    }
    const { added, present } = await registerSearchAttributes(client.connection, namespace);
    for (const a of added) console.log(`added       ${a.name} (${typeLabel(a.type)})`);
    for (const a of present) console.log(`registered  ${a.name} (${typeLabel(a.type)})`);
    console.log(`namespace ${namespace} is ready for callvault's workers`);
  } finally {
    await close();
  }
}
