import type { IncomingMessage, ServerResponse } from 'node:http';
import { contentStream } from './content';
import type { Fault } from './faults';
import { bodyPlanOf, parseRange, playResponseFault, sendBody, type LoggedRequest } from './server';

export interface MediaFile {
  key: Buffer;
  size: number;
  contentType: string;
}

export interface MediaBehaviour {
  /** Honour Range requests (off: always 200 with the whole file). */
  range: boolean;
  /** Send Content-Length (off: chunked transfer encoding). */
  contentLength: boolean;
}

/**
 * Serves a generated file the way object stores do: 200 or 206 with Content-Range, 416 past the
 * end, with the switches and body faults every simulator shares.
 */
export async function serveMedia(
  req: IncomingMessage,
  res: ServerResponse,
  log: LoggedRequest,
  file: MediaFile,
  behaviour: MediaBehaviour,
  fault: Fault | undefined,
): Promise<void> {
  if (playResponseFault(res, log, fault)) return;
  const range = behaviour.range ? parseRange(req.headers.range, file.size) : null;
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'content-range': `bytes */${file.size}`, 'content-length': 0 });
    res.end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size;
  const headers: Record<string, string | number> = {
    'content-type': file.contentType,
    'accept-ranges': behaviour.range ? 'bytes' : 'none',
  };
  if (behaviour.contentLength) headers['content-length'] = end - start;
  if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${file.size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await sendBody(res, contentStream(file.key, start, end), log, bodyPlanOf(fault, end - start));
}
