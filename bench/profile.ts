import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  /** Wall time the profile covers, seconds. */
  seconds: number;
  /** Seconds the main thread was idle (waiting on I/O), and busy. */
  idleSeconds: number;
  busySeconds: number;
  /** Self time per area (package, Node internals, callvault module, GC), seconds, largest first; share of busy time. */
  byArea: Array<{ area: string; seconds: number; share: number }>;
  /** Functions with the most self time. */
  topFunctions: Array<{ fn: string; seconds: number; share: number }>;
}

/** Where a frame belongs: an npm package, a callvault file, Node itself, or V8's pseudo-frames. */
function areaOf(url: string, fn: string): string {
  if (!url) {
    if (fn === '(idle)') return '(idle: waiting on I/O)';
    if (fn === '(garbage collector)') return '(garbage collector)';
    if (fn === '(program)') return '(program: native code, incl. crypto hashing and the Temporal core bridge)';
    return `(native: ${fn || 'anonymous'})`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const own = /\/dist\/(.*)\.js$/.exec(url);
  if (own) return `callvault ${own[1]}`;
  return url;
}

export function summarizeProfile(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (!url && functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|dist)\//, '')}:${lineNumber + 1}` : ''}`.trim();
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, us]) => ({ k, seconds: Math.round(us / 1e4) / 100, share: Math.round((us / total) * 1000) / 1000 }));
  return {
    file,
    seconds: Math.round((profile.endTime - profile.startTime) / 1e4) / 100,
    idleSeconds: Math.round(idle / 1e4) / 100,
    busySeconds: Math.round(total / 1e4) / 100,
    byArea: rank(areas)
      .slice(0, top)
      .map(({ k, ...r }) => ({ area: k, ...r })),
    topFunctions: rank(fns)
      .slice(0, top)
      .map(({ k, ...r }) => ({ fn: k, ...r })),
  };
}

/** The newest .cpuprofile in a folder, if any. */
export function findProfile(dir: string): string | null {
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort();
    return files.length ? join(dir, files[files.length - 1]!) : null;
  } catch {
    return null;
  }
}
