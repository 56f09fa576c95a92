import { relative } from 'node:path';
import { formatSweep } from '../client/retention';
import type { CallvaultConfig } from '../config/schema';
import type { ExportResult } from '../contracts/exportResult';
import type { RetentionSweepResult } from '../contracts/retentionSweep';
import type { Window } from '../contracts/window';
import { formatBytes } from '../contracts/units';
import type { SeaweedServer } from '../devstack/seaweed';
import type { TemporalServer } from '../devstack/temporal';
import { repoRoot } from '../devstack/tools';

export interface DemoStack {
  temporal: TemporalServer;
  seaweed: SeaweedServer;
  databaseUrl: string;
  configPath: string;
  config: CallvaultConfig;
  /** The Postgres password file written for the printed commands, when the server needs a password. */
  pgpass: string | undefined;
  bucket: string;
  window: Window;
  connections: readonly string[];
}

/** Environment variables that override a configuration file: the demo's worker and printed commands go without them. */
export const CONFIG_OVERRIDES = [
  'DATABASE_URL',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'CALLVAULT_TASK_QUEUE',
  'S3_ENDPOINT',
  'S3_BUCKET',
  'S3_REGION',
];

/**
 * What the demo did, and where to look. Every command printed runs as printed, from the folder
 * the demo was started in: secrets are files the configuration names, and what would redirect
 * the CLI elsewhere (DATABASE_URL and the like, when set here) is unset in the command itself.
 * Addresses of servers are printed only while they run.
 */
export function printResults(
  results: ExportResult[],
  sweep: RetentionSweepResult,
  stack: DemoStack,
  options: { dataDir: string; keepRunning: boolean },
): void {
  console.log('\ncallvault demo: done');
  for (const r of results) {
    console.log(
      `  ${r.connection.padEnd(10)} ${r.transferred} transferred (${formatBytes(r.bytes)}), ${r.skipped} already stored, ${r.failed} failed (with reasons), ${r.listed} listed`,
    );
  }
  console.log('\nRetention sweep, dry run (the demo connections keep data until just after the demo window):');
  console.log(formatSweep(sweep).replace(/^/gm, '  '));
  const rel = (path: string) => {
    const r = relative(process.cwd(), path);
    return r && !r.startsWith('..') ? r : path;
  };
  const unset = CONFIG_OVERRIDES.filter((name) => process.env[name] !== undefined);
  const prefix = `${unset.length ? `env ${unset.map((n) => `-u ${n}`).join(' ')} ` : ''}${stack.pgpass ? `PGPASSFILE=${rel(stack.pgpass)} ` : ''}`;
  const cli = `${prefix}node ${rel(`${repoRoot()}/dist/src/cli/main.js`)} --config ${rel(stack.configPath)}`;
  const psql = `${stack.pgpass ? `PGPASSFILE=${rel(stack.pgpass)} ` : ''}psql ${redact(stack.databaseUrl)}`;
  const [first] = stack.connections;
  const window = `--from ${stack.window.from.slice(0, 10)} --to ${stack.window.to.slice(0, 10)}`;
  if (options.keepRunning) {
    console.log(`
Where to look, while the stack runs (Ctrl-C stops it):
  Temporal Web UI     ${stack.temporal.uiUrl ?? '(headless)'}   exports are named export:<connection>:<window>; filter with CallvaultConnection = "${first}"
  S3 endpoint/bucket  ${stack.seaweed.endpoint}  bucket ${stack.bucket}, keys under exports/<provider>/<connection>/yyyy/mm/dd/
  The CLI, in another terminal (its secrets are files under ${rel(`${options.dataDir}/secrets`)}/):
    ${cli} export list
    ${cli} export failures --connection ${first} ${window}
    ${cli} verify
    ${cli} retention sweep --dry-run`);
  } else {
    console.log('\nThe stack has stopped (--keep-running keeps it up, the default on a terminal, for the Web UI and the CLI).');
  }
  console.log(`  Provenance          ${psql} -c "SELECT connection, status, count(*), sum(size_bytes) FROM callvault.files GROUP BY 1, 2 ORDER BY 1, 2"
  Failures            ${psql} -c "SELECT connection, source_id, failure_code, failure_reason FROM callvault.files WHERE status = 'failed'"
  Logs                ${rel(options.dataDir)}/{temporal,seaweed,worker}.log
Run \`npm run demo\` again: every file is found in provenance and nothing is transferred twice.`);
  if (options.keepRunning) console.log('\nThe stack keeps running for you to look around. Press Ctrl-C to stop it.');
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '';
  return `"${u.toString()}"`;
}
