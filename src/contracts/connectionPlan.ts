/** Where a connection's work runs, as the export workflow learns it: never what the connection is. */
export interface ConnectionPlan {
  provider: string;
  listTaskQueue: string;
  transferTaskQueue: string;
  batchSize: number;
}
