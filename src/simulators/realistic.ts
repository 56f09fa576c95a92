import type { Fault, FaultChoice, FaultPlan } from './faults';

/** A realistic mix of transient faults, as each simulator's `playRealisticFaults` switches it on. */
export interface RealisticFaultOptions {
  /** Probability that a request to any target plays a random fault. Default 0.15. */
  rate?: number;
  /** Seed of the draws. Default: the simulator's seed. */
  seed?: string;
  /** Retry-After of every 429, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Every Nth call to the platform's API (all its API targets together) answers 429; 0 for none. Default 7. */
  every429?: number;
  /** Random and every-Nth faults per (target, id) at most, so each file succeeds on a later try. Default 3. */
  capPerId?: number;
  /** Also switch on the simulator's overlapping listing pages. Default true. */
  overlap?: boolean;
}

/** What one platform plays: the faults of each target, which targets share the API quota, and its 429. */
export interface FaultMix {
  perTarget: Record<string, FaultChoice[]>;
  apiTargets: string[];
  throttled: Fault;
}

export const DEFAULT_RATE = 0.15;
export const DEFAULT_EVERY_429 = 7;

export function throttled(retryAfterSeconds: number): Fault {
  return { kind: 'status', status: 429, retryAfterSeconds };
}

export const SERVER_ERRORS: readonly Fault[] = [
  { kind: 'status', status: 500 },
  { kind: 'status', status: 503 },
];
export const MALFORMED_JSON: Fault = { kind: 'malformed-json' };
export const EXPIRED: Fault = { kind: 'expired' };
/** A reset and an early end, each at a position drawn inside the body. */
export const BODY_BREAKS: readonly FaultChoice[] = [
  { kind: 'cut', fraction: 'random' },
  { kind: 'short', fraction: 'random' },
];

/** Adds the mix to the plan: every-Nth 429 over the API targets, then one rate rule per target. */
export function playMix(plan: FaultPlan, mix: FaultMix, options: RealisticFaultOptions, simulatorSeed: string): void {
  plan.capPerId = options.capPerId ?? 3;
  const every = options.every429 ?? DEFAULT_EVERY_429;
  if (every > 0) plan.addEveryNth({ targets: mix.apiTargets, every, fault: mix.throttled });
  const rate = options.rate ?? DEFAULT_RATE;
  for (const [target, faults] of Object.entries(mix.perTarget))
    plan.addRate({ targets: target, rate, faults, seed: options.seed ?? simulatorSeed });
}
