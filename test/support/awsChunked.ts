/** Wire bytes [start, end) of one chunk of the body carry payload bytes from payloadOffset on. */
export interface PayloadRun {
  start: number;
  end: number;
  payloadOffset: number;
}

type State = 'size' | 'data' | 'dataEnd' | 'trailers' | 'done' | 'opaque';

const MAX_LINE = 8 * 1024;
const LF = 0x0a;

/**
 * Follows a request body as it streams past and says which of its bytes are payload. A plain
 * body is all payload. An `aws-chunked` body (what the SDK sends for a streamed upload with a
 * checksum) frames the payload as `<hex size>[;chunk-signature=..]\r\n<data>\r\n`, ends with a
 * zero-size chunk and trailer lines (`x-amz-checksum-crc32:..`): a fault that flips "byte n"
 * must flip the n-th payload byte, not the framing, or the store would refuse it for its syntax
 * rather than for its checksum. Trailers are collected for the request log.
 */
export class BodyScanner {
  /** Payload bytes seen so far (the decoded length, for aws-chunked). */
  payloadBytes = 0;
  wireBytes = 0;
  readonly trailers: Record<string, string> = {};
  /** Why the framing could not be followed, if it could not; the rest is then treated as framing. */
  error: string | null = null;
  private state: State;
  private remaining = 0;
  private line: number[] = [];

  constructor(readonly chunked: boolean) {
    this.state = chunked ? 'size' : 'data';
  }

  /** The payload runs in the next chunk of wire bytes. */
  scan(wire: Buffer): PayloadRun[] {
    this.wireBytes += wire.length;
    if (!this.chunked) {
      const run = { start: 0, end: wire.length, payloadOffset: this.payloadBytes };
      this.payloadBytes += wire.length;
      return wire.length > 0 ? [run] : [];
    }
    const runs: PayloadRun[] = [];
    let i = 0;
    while (i < wire.length) {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, wire.length - i);
        runs.push({ start: i, end: i + n, payloadOffset: this.payloadBytes });
        this.payloadBytes += n;
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.state = 'dataEnd';
        continue;
      }
      if (this.state === 'done' || this.state === 'opaque') break;
      const byte = wire[i++] as number;
      if (this.state === 'dataEnd') {
        if (byte === LF) this.state = 'size';
        continue;
      }
      if (byte !== LF) {
        this.line.push(byte);
        if (this.line.length > MAX_LINE) this.fail(`a framing line longer than ${MAX_LINE} bytes`);
        continue;
      }
      const text = Buffer.from(this.line).toString('latin1').replace(/\r$/, '');
      this.line = [];
      if (this.state === 'size') this.onSizeLine(text);
      else this.onTrailerLine(text);
    }
    return runs;
  }

  private onSizeLine(text: string): void {
    const hex = text.split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]+$/.test(hex)) return this.fail(`a chunk size line that is not hex: ${JSON.stringify(text.slice(0, 80))}`);
    this.remaining = parseInt(hex, 16);
    this.state = this.remaining === 0 ? 'trailers' : 'data';
  }

  private onTrailerLine(text: string): void {
    if (text === '') {
      this.state = 'done';
      return;
    }
    const colon = text.indexOf(':');
    if (colon > 0) this.trailers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
  }

  private fail(reason: string): void {
    this.error = reason;
    this.state = 'opaque';
  }
}

/** The wire index of payload byte `offset` within these runs, or -1 if this chunk does not carry it. */
export function wireIndexOf(runs: readonly PayloadRun[], offset: number): number {
  for (const run of runs) {
    const at = offset - run.payloadOffset;
    if (at >= 0 && at < run.end - run.start) return run.start + at;
  }
  return -1;
}
