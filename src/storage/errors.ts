/** An S3 error's name and HTTP status, whatever shape the SDK (or a store behind it) threw. */
export function s3ErrorOf(err: unknown): { name: string; status: number | undefined } {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  return { name: typeof e?.name === 'string' ? e.name : '', status: e?.$metadata?.httpStatusCode };
}
