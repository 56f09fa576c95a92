import { Context } from '@temporalio/activity';
import type { Execution } from '../src/provenance/store';

/** The workflow execution and attempt running the current activity, for provenance. */
export function currentExecution(): Execution {
  const info = Context.current().info;
  const wf = info.workflowExecution;
  if (!wf) throw new Error(`activity ${info.activityType} must run inside a workflow (provenance names the export)`);
  return { workflowId: wf.workflowId, runId: wf.runId, attempt: info.attempt };
}
