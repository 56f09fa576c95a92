import { TransientError } from '../errors';
import { failForStatus, type HttpResponse } from '../http/client';
import { withoutSecrets } from '../http/hosts';
import type { OpenedDownload } from './types';

/**
 * Turns a 200/206 media response into an OpenedDownload, reading Content-Range and
 * Content-Length the same way for every provider. A 206 must start where the Content-Range says;
 * a 200 means the source ignored the Range and starts from byte 0.
 */
export async function openedOrFail(
  res: HttpResponse,
  what: string,
  fallback: { contentType: string; extension: string },
  redact: readonly string[] = [],
): Promise<OpenedDownload> {
  if (res.status === 416) return rangePastEnd(res, fallback);
  if (res.status !== 200 && res.status !== 206) return failForStatus(res, what, redact);
  return openedFromResponse(res, fallback);
}

/**
 * A resumed transfer whose parts already hold every byte asks for a Range past the end; the
 * answer (416, `Content-Range: bytes *\/size`) says how large the file is, which is all we need.
 */
function rangePastEnd(res: HttpResponse, fallback: { contentType: string; extension: string }): OpenedDownload {
  const total = /^bytes \*\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
  if (!total) {
    res.body.destroy();
    throw new TransientError(`range not satisfiable at ${withoutSecrets(res.url)}, and no size given`);
  }
  const size = Number(total[1]);
  return {
    body: res.body,
    offset: size,
    contentLength: 0,
    totalSize: size,
    contentType: fallback.contentType,
    extension: fallback.extension,
    sourceUrl: withoutSecrets(res.url),
  };
}

export function openedFromResponse(res: HttpResponse, fallback: { contentType: string; extension: string }): OpenedDownload {
  const contentLength = headerNumber(res.headers['content-length']);
  let offset = 0;
  let totalSize: number | null = res.status === 200 ? contentLength : null;
  if (res.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    if (!range) {
      res.body.destroy();
      throw new TransientError(`partial response without a usable Content-Range from ${withoutSecrets(res.url)}`);
    }
    offset = Number(range[1]);
    totalSize = range[3] === '*' ? null : Number(range[3]);
  }
  const type = res.headers['content-type'];
  return {
    body: res.body,
    offset,
    contentLength,
    totalSize,
    contentType:
      typeof type === 'string' && type && type !== 'application/octet-stream' ? type.split(';')[0]!.trim() : fallback.contentType,
    extension: fallback.extension,
    sourceUrl: withoutSecrets(res.url),
  };
}

function headerNumber(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return null;
  return Number(value);
}

export function rangeHeader(offset: number): Record<string, string> {
  return offset > 0 ? { range: `bytes=${offset}-` } : {};
}
