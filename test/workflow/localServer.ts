import { join } from 'node:path';
import { defineSearchAttributeKey } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { CALLVAULT_SEARCH_ATTRIBUTES } from '../../src/contracts/searchAttributes';

const repo = join(__dirname, '..', '..');

/**
 * A Temporal dev server for workflow tests: the `temporal` CLI the set-up installed (the SDK's
 * time-skipping server downloads itself from the internet, which CI cannot reach), on loopback,
 * quiet, never calling home, and with the search attributes the export keeps current (without
 * them its workflow tasks fail).
 */
export function localTemporal(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: join(repo, '.tools', 'bin', 'temporal') },
      ip: '127.0.0.1',
      extraArgs: ['--dynamic-config-value', 'frontend.enableServerVersionCheck=false', '--log-level', 'error'],
      searchAttributes: CALLVAULT_SEARCH_ATTRIBUTES.map((a) => defineSearchAttributeKey(a.name, a.type)),
    },
  });
}
