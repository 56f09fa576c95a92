import { spawn } from 'node:child_process';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../worker/runtime';

/**
 * `node dist/src/cli/main.js worker` (README's way, and `npm run callvault -- worker`) would run
 * the worker without the Node flags and malloc setting its memory depends on (src/worker/runtime.ts):
 * the shebang, `npm run worker` and the Dockerfile set them, a plain `node` does not. Then the
 * worker runs as a child process with them, which gets our signals and whose exit is ours.
 * Returns false when nothing needed doing (flags present, or another command).
 */
export function reexecWorkerWithFlags(argv: readonly string[] = process.argv): boolean {
  if (commandOf(argv.slice(2)) !== 'worker') return false;
  const missing = WORKER_NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  const envMissing = Object.entries(WORKER_ENV).some(([k, v]) => process.env[k] !== v);
  if (missing.length === 0 && !envMissing) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...missing, ...argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...WORKER_ENV },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  child.once('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 143)));
  return true;
}

/** The command a CLI argument list runs: its first word that is not a global option or its value. */
function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-c' || arg === '--config') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}
