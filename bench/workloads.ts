import type { WorkloadName } from './options';
import { GiB, KiB, MiB } from '../src/contracts/units';

/** One workload: `files` recordings of `size` bytes, all on one day so a window selects exactly them. */
export interface Workload {
  name: WorkloadName;
  files: number;
  size: number;
  /** The day its recordings are dated: each workload (and round) gets its own window. */
  from: string;
  to: string;
  /** What the targets judge this workload by. */
  target: { metric: 'MiB/s' | 'files/s'; ratio: number } | null;
}

/**
 * The shapes of export, scaled. `large` and `single` scale their bytes (a quick run moves smaller
 * files rather than waiting for whole GiBs); the others scale their file count.
 */
export function workload(name: WorkloadName, scale: number, day: number): Workload {
  const date = new Date(Date.UTC(2026, 0, 1 + day));
  const from = date.toISOString();
  const to = new Date(date.getTime() + 24 * 3600 * 1000).toISOString();
  switch (name) {
    case 'large': {
      const files = Math.max(1, Math.round(4 * scale));
      const size = Math.max(16 * MiB, Math.round((Math.min(1, (4 * scale) / files) * GiB) / MiB) * MiB);
      return { name, files, size, from, to, target: { metric: 'MiB/s', ratio: 0.9 } };
    }
    case 'single':
      // One large file alone: what a file's own transfer does when nothing else runs beside it.
      return { name, files: 1, size: Math.max(16 * MiB, Math.round(scale * 1024) * MiB), from, to, target: null };
    case 'middle':
      return { name, files: Math.max(4, Math.round(200 * scale)), size: 5 * MiB, from, to, target: null };
    case 'small':
      return { name, files: Math.max(20, Math.round(2000 * scale)), size: 64 * KiB, from, to, target: { metric: 'files/s', ratio: 0.5 } };
  }
}

export function describeSize(bytes: number): string {
  if (bytes >= GiB && bytes % (GiB / 100) === 0) return `${+(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(1)} MiB`;
  return `${+(bytes / KiB).toFixed(1)} KiB`;
}
