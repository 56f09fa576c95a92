import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';

const repo = join(__dirname, '..', '..');

/**
 * A Temporal dev server for workflow tests: the `temporal` CLI the set-up installed (the SDK's
 * time-skipping server downloads itself from the internet, which CI cannot reach), on loopback,
 * quiet, and never calling home.
 */
export function localTemporal(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: join(repo, '.tools', 'bin', 'temporal') },
      ip: '127.0.0.1',
      extraArgs: ['--dynamic-config-value', 'frontend.enableServerVersionCheck=false', '--log-level', 'error'],
    },
  });
}
