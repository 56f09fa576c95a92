// The workflow bundle's entry point: every workflow type the worker registers.
export { exportWorkflow } from './export';
export { scheduledExportWorkflow } from './schedule';
export { retentionSweepWorkflow } from './retention';
export { eraseWorkflow } from './erase';
