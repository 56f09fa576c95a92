import { createHash } from 'node:crypto';

/** Faults a simulator can play on demand, as PROVIDERS.md lists them. */
export type Fault =
  /** Answer with this status (429 with Retry-After, 500, 503, 404...). */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; body?: string }
  /** Cut the connection after this many body bytes. */
  | { kind: 'cut'; afterBytes: number }
  /** Cut the connection after this fraction (0 <= f < 1) of the body, whatever its size. */
  | { kind: 'cut'; fraction: number }
  /** Declare the full Content-Length but end the body after this many bytes. */
  | { kind: 'short'; bytes: number }
  /** The same, after this fraction (0 <= f < 1) of the body. */
  | { kind: 'short'; fraction: number }
  /** Send the body at this rate. */
  | { kind: 'slow'; bytesPerSecond: number }
  /** Treat a signed URL as expired. */
  | { kind: 'expired' }
  /** Answer with a JSON body that does not parse. */
  | { kind: 'malformed-json' }
  /** Redirect (or link) to a host outside the allow-list. */
  | { kind: 'foreign-redirect'; location: string };

/** A cut or short body whose end is drawn per request, inside the body whatever its size. */
export interface RandomBreak {
  kind: 'cut' | 'short';
  fraction: 'random';
}

/** A fault as a rate rule lists it. */
export type FaultChoice = Fault | RandomBreak;

export interface FaultRule {
  /** Which endpoint: the simulator defines its targets (e.g. 'list', 'metadata', 'media'). */
  target: string;
  /** Only requests about this id (recording, file, session); any when absent. */
  id?: string;
  fault: Fault;
  /** How many times it fires; Infinity for always. */
  times?: number;
}

/** A shared quota: the Nth, 2Nth, ... request over these targets gets the fault, whatever the pace. */
export interface EveryNthRule {
  targets: string[];
  every: number;
  fault: Fault;
}

/** Random faults: each matching request plays one with this probability, drawn from `faults`. */
export interface RateRule {
  targets: string | string[];
  /** 0..1. */
  rate: number;
  /** Drawn uniformly; list one twice to weigh it. */
  faults: FaultChoice[];
  /** Seed of the draws; the plan's (the simulator's) when absent. */
  seed?: string;
}

export interface TargetStats {
  /** Requests that reached the fault point of this target. */
  requests: number;
  faults: number;
  /** Faults by kind: the status code for status faults ('429'), else the kind ('cut', 'expired'...). */
  byKind: Record<string, number>;
}

export interface FaultStats {
  targets: Record<string, TargetStats>;
  total: TargetStats;
}

/**
 * The faults a simulator plays, asked once per request with `take(target, id)`. Rules are tried
 * in this order, the first that fires wins:
 *
 * 1. explicit rules (`add`), each a bounded number of times, in the order added;
 * 2. every-Nth rules (`addEveryNth`), counting every request to their targets;
 * 3. rate rules (`addRate`), in the order added.
 *
 * Every-Nth and rate faults stop for a (target, id) once it has had `capPerId` of them, so each
 * file (or listing page) succeeds within a bounded number of tries. Rate draws are a hash of
 * (seed, rule, target, id, how many requests that (target, id) has seen): the same requests give
 * the same faults, even when concurrency interleaves them differently from run to run.
 */
export class FaultPlan {
  /** Every-Nth and rate faults per (target, id) at most; explicit rules are not capped. */
  capPerId = 3;
  private rules: Array<FaultRule & { left: number }> = [];
  private everyNth: Array<EveryNthRule & { seen: number }> = [];
  private rates: RateRule[] = [];
  private requestsPerKey = new Map<string, number>();
  private faultsPerKey = new Map<string, number>();
  private perTarget = new Map<string, TargetStats>();

  constructor(readonly seed = 'faults') {}

  add(rule: FaultRule): this {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
    return this;
  }

  addEveryNth(rule: EveryNthRule): this {
    if (!Number.isInteger(rule.every) || rule.every < 1) throw new Error(`every: expected a positive integer, got ${rule.every}`);
    this.everyNth.push({ ...rule, seen: 0 });
    return this;
  }

  addRate(rule: RateRule): this {
    if (!(rule.rate >= 0 && rule.rate <= 1)) throw new Error(`rate: expected 0..1, got ${rule.rate}`);
    if (rule.faults.length === 0) throw new Error('faults: expected at least one fault');
    this.rates.push(rule);
    return this;
  }

  /** Forgets every rule, counter and statistic. */
  clear(): void {
    this.rules = [];
    this.everyNth = [];
    this.rates = [];
    this.requestsPerKey = new Map();
    this.faultsPerKey = new Map();
    this.perTarget = new Map();
  }

  /** The fault to play for this request, if any (and counts the request and the fault). */
  take(target: string, id?: string): Fault | undefined {
    const key = `${target}\0${id ?? ''}`;
    const nth = (this.requestsPerKey.get(key) ?? 0) + 1;
    this.requestsPerKey.set(key, nth);
    // Every request advances the quotas it counts against, whichever rule answers it.
    let due: Fault | undefined;
    for (const r of this.everyNth) if (r.targets.includes(target) && ++r.seen % r.every === 0) due ??= r.fault;
    const fault = this.explicit(target, id) ?? this.capped(key, () => due ?? this.drawn(key, target, nth));
    this.count(target, fault);
    return fault;
  }

  /** How many times explicit rules for this target have yet to fire (tests assert a fault was played). */
  pending(target?: string): number {
    return this.rules
      .filter((r) => target === undefined || r.target === target)
      .reduce((n, r) => n + (Number.isFinite(r.left) ? r.left : 1), 0);
  }

  stats(): FaultStats {
    const total: TargetStats = { requests: 0, faults: 0, byKind: {} };
    const targets: Record<string, TargetStats> = {};
    for (const [target, s] of [...this.perTarget].sort(([a], [b]) => a.localeCompare(b))) {
      targets[target] = { ...s, byKind: { ...s.byKind } };
      total.requests += s.requests;
      total.faults += s.faults;
      for (const [kind, n] of Object.entries(s.byKind)) total.byKind[kind] = (total.byKind[kind] ?? 0) + n;
    }
    return { targets, total };
  }

  private explicit(target: string, id: string | undefined): Fault | undefined {
    const rule = this.rules.find((r) => r.left > 0 && r.target === target && (r.id === undefined || r.id === id));
    if (!rule) return undefined;
    rule.left--;
    return rule.fault;
  }

  private capped(key: string, choose: () => Fault | undefined): Fault | undefined {
    const played = this.faultsPerKey.get(key) ?? 0;
    if (played >= this.capPerId) return undefined;
    const fault = choose();
    if (fault) this.faultsPerKey.set(key, played + 1);
    return fault;
  }

  private drawn(key: string, target: string, nth: number): Fault | undefined {
    for (const [index, rule] of this.rates.entries()) {
      if (!(typeof rule.targets === 'string' ? [rule.targets] : rule.targets).includes(target)) continue;
      const draw = (what: string) => unitDraw(rule.seed ?? this.seed, `${index}\0${key}\0${nth}\0${what}`);
      if (draw('fires') >= rule.rate) continue;
      const choice = rule.faults[Math.floor(draw('pick') * rule.faults.length)]!;
      if (!isRandomBreak(choice)) return choice;
      return choice.kind === 'cut' ? { kind: 'cut', fraction: draw('at') } : { kind: 'short', fraction: draw('at') };
    }
    return undefined;
  }

  private count(target: string, fault: Fault | undefined): void {
    let s = this.perTarget.get(target);
    if (!s) {
      s = { requests: 0, faults: 0, byKind: {} };
      this.perTarget.set(target, s);
    }
    s.requests++;
    if (!fault) return;
    s.faults++;
    const kind = fault.kind === 'status' ? String(fault.status) : fault.kind;
    s.byKind[kind] = (s.byKind[kind] ?? 0) + 1;
  }
}

function isRandomBreak(choice: FaultChoice): choice is RandomBreak {
  return 'fraction' in choice && choice.fraction === 'random';
}

/** A deterministic number in [0, 1) from a seed and a label. */
function unitDraw(seed: string, label: string): number {
  return createHash('sha256').update(`${seed}\0${label}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** One line per target and a total: requests, the effective fault rate, faults by kind (for test output). */
export function formatStats(stats: FaultStats): string {
  const line = (name: string, s: TargetStats) => {
    const kinds = Object.entries(s.byKind)
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ');
    const rate = s.requests > 0 ? ((100 * s.faults) / s.requests).toFixed(1) : '0.0';
    return `${name}: ${s.requests} requests, ${s.faults} faults (${rate}%)${kinds ? ` [${kinds}]` : ''}`;
  };
  return [...Object.entries(stats.targets).map(([t, s]) => line(t, s)), line('total', stats.total)].join('\n');
}
