/** Faults a simulator can play on demand, as PROVIDERS.md lists them. */
export type Fault =
  /** Answer with this status (429 with Retry-After, 500, 503, 404...). */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; body?: string }
  /** Cut the connection after this many body bytes. */
  | { kind: 'cut'; afterBytes: number }
  /** Declare the full Content-Length but end the body after this many bytes. */
  | { kind: 'short'; bytes: number }
  /** Send the body at this rate. */
  | { kind: 'slow'; bytesPerSecond: number }
  /** Treat a signed URL as expired. */
  | { kind: 'expired' }
  /** Answer with a JSON body that does not parse. */
  | { kind: 'malformed-json' }
  /** Redirect (or link) to a host outside the allow-list. */
  | { kind: 'foreign-redirect'; location: string };

export interface FaultRule {
  /** Which endpoint: the simulator defines its targets (e.g. 'list', 'metadata', 'media'). */
  target: string;
  /** Only requests about this id (recording, file, session); any when absent. */
  id?: string;
  fault: Fault;
  /** How many times it fires; Infinity for always. */
  times?: number;
}

/** A list of fault rules, each firing a bounded number of times, first match wins. */
export class FaultPlan {
  private rules: Array<FaultRule & { left: number }> = [];

  add(rule: FaultRule): this {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
    return this;
  }

  clear(): void {
    this.rules = [];
  }

  /** The fault to play for this request, if any (and counts it as fired). */
  take(target: string, id?: string): Fault | undefined {
    const rule = this.rules.find((r) => r.left > 0 && r.target === target && (r.id === undefined || r.id === id));
    if (!rule) return undefined;
    rule.left--;
    return rule.fault;
  }

  /** How many times rules for this target have yet to fire (tests assert a fault was played). */
  pending(target?: string): number {
    return this.rules.filter((r) => target === undefined || r.target === target).reduce((n, r) => n + (Number.isFinite(r.left) ? r.left : 1), 0);
  }
}
