import type { ExportProgress } from '../contracts/exportResult';
import { progressLine } from '../client/progress';

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
