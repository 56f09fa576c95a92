import { connectionActivities } from './connection';
import type { ActivityDeps } from './deps';
import { erasureActivities } from './erasure';
import { exportActivities } from './exports';
import { listActivities } from './list';
import { transferActivities } from './transfer';
import { triggerActivities } from './triggers';

export type { ActivityDeps } from './deps';

/** The activity factory: every activity, closed over the dependencies the worker built. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...connectionActivities(deps),
    ...erasureActivities(deps),
    ...exportActivities(deps),
    ...listActivities(deps),
    ...transferActivities(deps),
    ...triggerActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
