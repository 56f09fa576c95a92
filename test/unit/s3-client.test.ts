import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { createS3Client } from '../../src/storage/s3';

describe('the S3 client', () => {
  it('sends a large body without waiting for 100-continue, through a per-request path without the steps callvault does not use', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200, { etag: '"e"' }).end());
    });
    // A server that never answers 100 Continue would make an Expect header visible as a stall; Node answers it, so check the header itself.
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const storage = parseConfig({
      storage: { endpoint, bucket: 'unit-bucket', accessKeyId: { env: 'K' }, secretAccessKey: { env: 'S' } },
      connections: {},
    }).storage;
    const s3 = createS3Client(storage, { K: 'key', S: 'secret' });
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: 'unit-bucket', Key: 'k', Body: Buffer.alloc(3 * 1024 * 1024), ContentLength: 3 * 1024 * 1024 }),
      );
      expect(seen).toHaveLength(1);
      expect(seen[0]!.expect).toBeUndefined();
      expect(seen[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
      const steps = s3.middlewareStack.identify().join('\n');
      for (const gone of ['loggerMiddleware', 'recursionDetectionMiddleware', 'validateBucketNameMiddleware', 'regionRedirectMiddleware'])
        expect(steps).not.toContain(gone);
      expect(steps).toContain('httpSigningMiddleware');
    } finally {
      s3.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
