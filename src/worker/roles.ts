/**
 * What a worker process polls. `all` suits one machine; at scale, run a few `workflows` workers
 * and as many `transfers` workers as the platforms' rate limits allow: transfer workers hold no
 * workflow sandbox, so their memory is the bytes in flight and little else.
 */
export const WORKER_ROLES = ['all', 'workflows', 'transfers'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];
