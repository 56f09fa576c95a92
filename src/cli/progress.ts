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

/** Renders progress to stderr: redraws one line on a TTY, prints a line every few seconds otherwise. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { update(p: ExportProgress): void; done(): void } {
  let lastBytes = 0;
  let lastAt = Date.now();
  let rate = 0;
  let lastPrinted = 0;
  return {
    update(p) {
      const now = Date.now();
      if (now > lastAt) rate = ((p.bytes - lastBytes) * 1000) / (now - lastAt);
      lastBytes = p.bytes;
      lastAt = now;
      const line = progressLine(p, Math.max(rate, 0));
      if (stream.isTTY) stream.write(`\r\x1b[2K${line}`);
      else if (now - lastPrinted >= 5000) {
        stream.write(`${line}\n`);
        lastPrinted = now;
      }
    },
    done() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
