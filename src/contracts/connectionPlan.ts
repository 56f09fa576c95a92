/** Where a connection's work runs, as the export workflow learns it: never what the connection is. */
export interface ConnectionPlan {
  provider: string;
  listTaskQueue: string;
  transferTaskQueue: string;
  batchSize: number;
  /**
   * The transfer queue's rate limit (a platform's published one, not a lifted one) is what bounds
   * the files per second, so every activity start should carry a full batch. Absent from plans
   * recorded before it existed: those histories replay with the batches they made.
   */
  startsAreScarce?: boolean;
}
