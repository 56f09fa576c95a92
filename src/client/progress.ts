import type { ExportProgress } from '../contracts/exportResult';
import { formatBytes } from '../contracts/units';

/** One line that says how far an export is; a bar on a terminal, plain lines in logs. */
export function progressLine(p: ExportProgress, bytesPerSecond: number, width = 24): string {
  const done = p.transferred + p.skipped + p.failed;
  const total = Math.max(p.listed, done);
  const ratio = total === 0 ? 0 : done / total;
  const filled = Math.round(ratio * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const listed = p.listingDone ? `${total}` : `${total}+ (listing)`;
  const parts = [
    `[${bar}] ${String(Math.floor(ratio * 100)).padStart(3)}%`,
    `${done}/${listed} files`,
    `${formatBytes(p.bytes)} at ${formatBytes(bytesPerSecond)}/s`,
    `${p.inFlight} in flight`,
  ];
  if (p.skipped) parts.push(`${p.skipped} already stored`);
  if (p.waiting) parts.push(`${p.waiting} waiting (not ready)`);
  if (p.failed) parts.push(`${p.failed} failed`);
  return parts.join(' | ');
}
