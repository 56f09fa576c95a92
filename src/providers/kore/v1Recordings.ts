import { Readable } from 'node:stream';
import { TransientError, UnavailableError } from '../../errors';
import { networkError } from '../../http/client';
import { DataUriDecoder, DataUriError } from './dataUri';
import { JsonScanError, JsonStringArrayScanner, type StringArrayHandler } from '../../json/stringArray';
import { KiB } from '../../contracts/units';

/**
 * Kore's v1 recordings API answers `{ "recording": ["data:audio/wav;base64,...", ...] }`: every
 * recording of the session inline, tens of MB each. These functions read such a body as it
 * arrives, never holding more than one network chunk of it.
 */

const KEY = 'recording';

export interface V1Element {
  /** Media type from the data URI header; null when absent or unreadable (the download will say why). */
  mime: string | null;
}

/**
 * Counts the session's recordings and reads each one's media type, by streaming through the whole
 * body (the payloads are walked over, not decoded). v1 offers no cheaper way to count.
 */
export async function scanV1Recordings(body: Readable, what: string): Promise<V1Element[]> {
  const elements: V1Element[] = [];
  let header: DataUriDecoder | null = null;
  let unreadable = false;
  const scanner = new JsonStringArrayScanner(KEY, {
    start: () => {
      header = new DataUriDecoder(false);
      unreadable = false;
    },
    data: (_index, text) => {
      if (!header || header.headerDone || unreadable) return;
      try {
        header.write(text);
      } catch (err) {
        // A bad header spoils one recording, not the listing: the download reports it as malformed.
        if (!(err instanceof DataUriError)) throw err;
        unreadable = true;
      }
    },
    end: () => {
      let mime: string | null = null;
      if (header && !unreadable) {
        try {
          if (!header.headerDone) header.end();
          mime = header.mime;
        } catch (err) {
          if (!(err instanceof DataUriError)) throw err;
        }
      }
      elements.push({ mime });
      header = null;
    },
    other: () => elements.push({ mime: null }),
  });
  try {
    for await (const chunk of body) {
      scanner.write(chunk as Buffer);
      // What follows the array cannot add recordings: stop reading.
      if (scanner.arrayDone) return elements;
    }
    scanner.end();
    return elements;
  } catch (err) {
    throw v1Error(err, what);
  } finally {
    body.destroy();
  }
}

/**
 * Opens recording `index` of a v1 body: skips the elements before it (reading, not keeping them),
 * reads its data URI header, and returns its media type and a stream of its decoded bytes. The
 * stream pulls from the network only as fast as it is read, and stops reading (and closes the
 * connection) once the element is complete.
 */
export async function openV1Recording(body: Readable, index: number, what: string): Promise<{ mime: string | null; stream: Readable }> {
  const extractor = new ElementExtractor(index);
  const scanner = new JsonStringArrayScanner(KEY, extractor);
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    while (!extractor.headerKnown) {
      const next = await iterator.next();
      if (next.done) {
        scanner.end();
        break;
      }
      scanner.write(next.value);
      if (scanner.arrayDone && extractor.state === 'seeking') break;
    }
    if (extractor.state === 'seeking') {
      throw new UnavailableError(`${what}: the session has ${scanner.elements} recording(s), none at index ${index}`, 'not_found');
    }
  } catch (err) {
    body.destroy();
    throw v1Error(err, what);
  }
  return { mime: extractor.mime, stream: new ElementStream(body, iterator, scanner, extractor, what) };
}

/** Picks one element out of the scanner's events and decodes it. */
class ElementExtractor implements StringArrayHandler {
  state: 'seeking' | 'inside' | 'done' = 'seeking';
  /** Decoded bytes not yet handed to the stream: at most what one network chunk decodes to. */
  readonly out: Buffer[] = [];
  private readonly decoder = new DataUriDecoder(true);

  constructor(private readonly index: number) {}

  get headerKnown(): boolean {
    return this.state === 'done' || (this.state === 'inside' && this.decoder.headerDone);
  }

  get mime(): string | null {
    return this.decoder.mime;
  }

  start(index: number): void {
    if (index === this.index) this.state = 'inside';
  }

  data(index: number, text: Buffer): void {
    if (index !== this.index) return;
    const bytes = this.decoder.write(text);
    if (bytes) this.out.push(bytes);
  }

  end(index: number): void {
    if (index !== this.index) return;
    const bytes = this.decoder.end();
    if (bytes) this.out.push(bytes);
    this.state = 'done';
  }

  other(index: number): void {
    if (index === this.index) throw new DataUriError(`${KEY}[${index}] is not a string`);
  }
}

/**
 * The decoded bytes of one element. Node calls `_read` once and waits for a push before calling
 * it again, so each call runs one step: read network chunks until the element yields bytes (or
 * ends), then push them.
 */
class ElementStream extends Readable {
  private busy = false;
  private ended = false;

  constructor(
    private readonly source: Readable,
    private readonly chunks: AsyncIterator<Buffer>,
    private readonly scanner: JsonStringArrayScanner,
    private readonly extractor: ElementExtractor,
    private readonly what: string,
  ) {
    super({ highWaterMark: 64 * KiB });
  }

  override _read(): void {
    if (!this.busy) void this.step();
  }

  private async step(): Promise<void> {
    this.busy = true;
    let out: Buffer[];
    try {
      while (this.extractor.out.length === 0 && this.extractor.state !== 'done') {
        const next = await this.chunks.next();
        if (this.destroyed) return;
        if (next.done) {
          this.scanner.end();
          throw new JsonScanError('the JSON body ended inside the recording (truncated)');
        }
        this.scanner.write(next.value);
      }
      out = this.extractor.out.splice(0);
    } catch (err) {
      this.destroy(v1Error(err, this.what));
      return;
    } finally {
      this.busy = false;
    }
    // Pushed after `busy` is cleared: a push may call `_read` synchronously, and that call must not be lost.
    const done = this.extractor.state === 'done';
    for (const bytes of out) this.push(bytes);
    if (done && !this.ended) {
      this.ended = true;
      this.push(null);
      // The rest of the body (later recordings) is not needed.
      this.source.destroy();
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.source.destroy();
    callback(err);
  }
}

/** Structure problems may be a cut connection or a proxy: retry. Bad data in the recording will not change: give up on it. */
function v1Error(err: unknown, what: string): Error {
  if (err instanceof JsonScanError) return new TransientError(`${what}: ${err.message}`);
  if (err instanceof DataUriError) return new UnavailableError(`${what}: ${err.message}`, 'malformed');
  return networkError(err, what);
}
