import { readFileSync, readdirSync } from 'node:fs';
import type { ClientBase, Pool } from 'pg';

/** Clock ticks per second for /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** utime + stime of one process (all its threads), in seconds; null when it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

const treeCache = new Map<number, { at: number; pids: number[] }>();

/**
 * A process and all its descendants (found through /proc), for servers that fork helpers. Scanning
 * /proc costs the bench CPU, so a tree is reused for 5 s.
 */
export function processTree(root: number): number[] {
  const cached = treeCache.get(root);
  if (cached && Date.now() - cached.at < 5_000) return cached.pids;
  const pids = scanTree(root);
  treeCache.set(root, { at: Date.now(), pids });
  return pids;
}

function scanTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = parentOf(pid);
    if (ppid === null) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * CPU of a set of processes over a window. Each process is read when the window opens, every
 * `intervalMs` while it is open (so one that exits early keeps what it had used at the last
 * reading), and when it closes. Processes that appear during the window count from zero.
 */
export class CpuMeter {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();

  constructor(private readonly pids: () => number[] | Promise<number[]>) {}

  async sample(opening = false): Promise<void> {
    for (const pid of await this.pids()) {
      const s = cpuSeconds(pid);
      if (s === null) continue;
      if (!this.first.has(pid)) this.first.set(pid, opening ? s : 0);
      this.last.set(pid, s);
    }
  }

  /** CPU seconds used in the window. */
  seconds(): number {
    let total = 0;
    for (const [pid, end] of this.last) total += end - (this.first.get(pid) ?? end);
    return total;
  }
}

/**
 * Postgres backends serving one database (pg_stat_activity.datname), minus the bench's own
 * connection. Shared background processes (WAL writer, checkpointer, autovacuum launcher) are
 * left out: other databases on the same server use them too.
 */
export function postgresBackends(pool: Pool | ClientBase, database: string): () => Promise<number[]> {
  return async () => {
    const res = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
      database,
    ]);
    return res.rows.map((r) => r.pid);
  };
}

export interface Meters {
  [component: string]: CpuMeter;
}

/** Samples a set of meters every `intervalMs` until stopped; returns CPU seconds per component. */
export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly meters: Meters,
    private readonly intervalMs = 250,
  ) {}

  async start(): Promise<void> {
    await Promise.all(Object.values(this.meters).map((m) => m.sample(true)));
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void Promise.all(Object.values(this.meters).map((m) => m.sample()))
        .catch(() => undefined)
        .finally(() => (this.busy = false));
    }, this.intervalMs);
  }

  async stop(): Promise<Record<string, number>> {
    if (this.timer) clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    await Promise.all(Object.values(this.meters).map((m) => m.sample()));
    return Object.fromEntries(Object.entries(this.meters).map(([k, m]) => [k, round(m.seconds(), 2)]));
  }
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Load average and what else is busy, for the report's honesty line. */
export function machineLoad(): { loadavg: number[]; cores: number } {
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  const cores = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('processor')).length;
  return { loadavg, cores };
}
