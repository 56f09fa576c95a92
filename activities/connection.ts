import { connectionByName } from '../src/config/load';
import { taskQueues } from '../src/contracts/names';
import { transferBatchSize, transferStartsAreScarce } from '../src/providers/registry';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './failures';
import type { ConnectionPlan } from '../src/contracts/connectionPlan';

export function connectionActivities(deps: ActivityDeps) {
  return {
    /** Tells the workflow where this connection's work runs, without telling it what the connection is. */
    async describeConnection(input: { connection: string }): Promise<ConnectionPlan> {
      try {
        const conn = connectionByName(deps.config, input.connection);
        const queues = taskQueues(deps.config.temporal.taskQueue, conn.name);
        return {
          provider: conn.provider,
          listTaskQueue: queues.list,
          transferTaskQueue: queues.transfer,
          batchSize: transferBatchSize(conn),
          startsAreScarce: transferStartsAreScarce(conn),
        };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
