import { InvalidArgumentError, type Command } from 'commander';
import { MAX_BY, MAX_ID_LENGTH, MAX_REASON, checkFileSelection, type FileSelection } from '../contracts/erasure';
import { FieldProblems } from '../contracts/fields';
import { connectionArg, instantArg, textArg } from './args';

/**
 * The flags `hold` and `erase` share: a connection, which of its files (conversations, source ids
 * or a window of their creation times), and who asks and why. Checked by the erase workflow's own
 * rules (src/contracts/erasure.ts) before anything starts.
 */
export interface SelectionOptions {
  connection: string;
  conversation?: string[];
  sourceId?: string[];
  from?: string;
  to?: string;
  by: string;
  reason: string;
}

const idArg = textArg(MAX_ID_LENGTH);
const repeatable = (value: string, previous: string[] = []) => [...previous, idArg(value)];

export function withSelectionOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--connection <name>', 'configured connection name', connectionArg)
    .option('--conversation <id>', 'a conversation (session) id; repeatable', repeatable)
    .option('--source-id <id>', "a file's source id; repeatable", repeatable)
    .option('--from <date>', 'files created from (inclusive), with --to', instantArg)
    .option('--to <date>', 'files created before (exclusive), with --from', instantArg)
    .requiredOption('--by <who>', 'who asks for it (recorded in provenance)', textArg(MAX_BY))
    .requiredOption('--reason <why>', 'why (a request or case reference; recorded in provenance)', textArg(MAX_REASON));
}

/** The selection the flags name, or an error naming the flag that is wrong. */
export function selectionFromOptions(opts: SelectionOptions): FileSelection {
  const problems = new FieldProblems();
  const fields = {
    ...(opts.conversation ? { conversationIds: opts.conversation } : {}),
    ...(opts.sourceId ? { sourceIds: opts.sourceId } : {}),
    ...(opts.from !== undefined ? { from: opts.from } : {}),
    ...(opts.to !== undefined ? { to: opts.to } : {}),
  };
  const selection = checkFileSelection(fields, problems);
  if (!problems.ok) throw new InvalidArgumentError(flagNames(problems.summary()));
  return selection;
}

/** The workflow's field names as the flags spell them (instants were checked by instantArg already). */
function flagNames(message: string): string {
  return message
    .replace(/\bconversationIds\b/g, '--conversation')
    .replace(/\bsourceIds\b/g, '--source-id')
    .replace(/(^|; |, )(from|to)(?=[:,])/g, '$1--$2')
    .replace(/(from and to|both from and to)/g, (m) => m.replace('from', '--from').replace(/to$/, '--to'))
    .replace('later than from', 'later than --from');
}
