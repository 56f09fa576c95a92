import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';

const workflowsEntry = require.resolve('../../workflows');
/** Beside the compiled workflows: dist/workflow-bundle.js. */
const bundlePath = join(dirname(workflowsEntry), '..', 'workflow-bundle.js');

/**
 * The prebuilt workflow bundle when it is newer than the compiled workflows. Bundling takes
 * seconds of CPU; doing it once at build time makes every worker start fast, which matters when
 * a crashed worker is replaced mid-export.
 */
export function prebuiltWorkflowBundle(): WorkflowBundleOption | undefined {
  if (!existsSync(bundlePath)) return undefined;
  if (statSync(bundlePath).mtimeMs < statSync(workflowsEntry).mtimeMs) return undefined;
  return { codePath: bundlePath };
}

export async function writeWorkflowBundle(): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsEntry, logger: quietLogger });
  mkdirSync(dirname(bundlePath), { recursive: true });
  writeFileSync(bundlePath, code);
  return bundlePath;
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error };

if (require.main === module) {
  writeWorkflowBundle().then(
    (path) => console.log(`workflow bundle written to ${path}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
