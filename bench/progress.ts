/**
 * One progress line while the bench runs, on stderr so the report on stdout stays clean: redrawn
 * in place on a terminal, a plain line every 10 s otherwise (CI logs).
 */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private shown = '';
  private lastPlain = 0;

  update(line: string): void {
    if (this.tty) {
      const width = process.stderr.columns ?? 120;
      const text = line.length >= width ? `${line.slice(0, width - 2)}…` : line;
      process.stderr.write(`\r${text}${' '.repeat(Math.max(0, this.shown.length - text.length))}`);
      this.shown = text;
    } else if (Date.now() - this.lastPlain >= 10_000 || line.split(']')[0] !== this.shown.split(']')[0]) {
      process.stderr.write(`${line}\n`);
      this.lastPlain = Date.now();
      this.shown = line;
    }
  }

  /** Ends the current line (before anything else is printed). */
  done(): void {
    if (this.tty && this.shown) process.stderr.write('\n');
    this.shown = '';
  }
}
