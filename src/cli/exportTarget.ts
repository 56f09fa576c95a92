import { InvalidArgumentError, type Command } from 'commander';
import { exportWorkflowId, InvalidExportInput, parseExportInput } from '../contracts/exportInput';
import { connectionArg, instantArg, workflowIdArg } from './args';

/**
 * Which export a command is about: its workflow id, or a connection's window (`--connection c
 * --from d --to d`). For one export (status, cancel) the window is the export of exactly that
 * window; for failures and retry it is every export of the connection whose window overlaps it.
 */
export type ExportTarget = { workflowId: string } | { connection: string; from: string; to: string };

export interface TargetOptions {
  connection?: string;
  from?: string;
  to?: string;
}

/** `[workflowId]` or `--connection/--from/--to` on a command. */
export function withTarget(cmd: Command, windowMeaning: string): Command {
  return cmd
    .argument('[workflowId]', "the export's workflow id (export:<connection>:<from>:<to>)", workflowIdArg)
    .option('--connection <name>', `with --from and --to instead of a workflow id: ${windowMeaning}`, connectionArg)
    .option('--from <date>', 'window start (inclusive)', instantArg)
    .option('--to <date>', 'window end (exclusive)', instantArg);
}

export function exportTarget(workflowId: string | undefined, opts: TargetOptions): ExportTarget {
  const window = [opts.connection, opts.from, opts.to];
  if (workflowId !== undefined) {
    if (window.some((v) => v !== undefined))
      throw new InvalidArgumentError('give a workflow id or --connection, --from and --to, not both');
    return { workflowId };
  }
  if (window.some((v) => v === undefined))
    throw new InvalidArgumentError("give the export's workflow id, or --connection, --from and --to");
  try {
    // The workflow's own rules and spelling of instants (the id uses toISOString() forms).
    const input = parseExportInput({ connection: opts.connection, from: opts.from, to: opts.to });
    return { connection: input.connection, from: input.from, to: input.to };
  } catch (err) {
    if (err instanceof InvalidExportInput) throw new InvalidArgumentError(err.message.replace(/^invalid export input: /, ''));
    throw err;
  }
}

/** The one export a target names: its id, or the id of the export of exactly that window. */
export function exactExportId(target: ExportTarget): string {
  return 'workflowId' in target ? target.workflowId : exportWorkflowId(target);
}

export function describeTarget(target: ExportTarget): string {
  return 'workflowId' in target
    ? `export ${target.workflowId}`
    : `exports of ${target.connection} overlapping ${target.from} .. ${target.to}`;
}
