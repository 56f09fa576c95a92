import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { CallvaultConfig } from '../config/schema';
import { resolveSecret } from '../secrets';

/**
 * The S3 client, tuned for streaming many parts: keep-alive sockets, and checksums only where S3
 * requires them. The SDK's default CRC32 trailers (since 3.729) are rejected or mangled by some
 * S3-compatible stores, and callvault computes its own SHA-256 of every object anyway.
 */
export function createS3Client(storage: CallvaultConfig['storage'], env: NodeJS.ProcessEnv = process.env): S3Client {
  const credentials =
    storage.accessKeyId && storage.secretAccessKey
      ? {
          accessKeyId: resolveSecret(storage.accessKeyId, 'storage.accessKeyId', env),
          secretAccessKey: resolveSecret(storage.secretAccessKey, 'storage.secretAccessKey', env),
        }
      : undefined;
  const agentOptions = { keepAlive: true, maxSockets: 64 };
  return new S3Client({
    region: storage.region,
    endpoint: storage.endpoint,
    forcePathStyle: storage.forcePathStyle,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 4,
    requestHandler: new NodeHttpHandler({
      httpAgent: new Agent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
    }),
  });
}
