import { randomBytes } from 'node:crypto';
import { DEV_S3_CREDENTIALS } from '../src/devstack/seaweed';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DeleteBucketCommand, DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Client as PgClient } from 'pg';
import { parseConfig } from '../src/config/load';
import { providerLimits, transferBatchSize } from '../src/providers/registry';
import { ObjectStore } from '../src/storage/objectStore';
import { createS3Client } from '../src/storage/s3';
import { sha256OfObject } from '../src/transfer/verify';
import { startBaseline } from './baseline';
import { rcloneBinary, runRclone, storedUnder } from './rclone';
import { runHashBench } from './hash';
import { CpuMeter, Sampler, machineLoad, type Meters, postgresBackends, processTree, round } from './measure';
import { LIMITED, parseOptions, WORKLOAD_NAMES, type BenchOptions, type WorkloadName } from './options';
import { LIFTED_RATE_LIMIT, runPipeline } from './pipeline';
import { findProfile, summarizeProfile } from './profile';
import { Progress } from './progress';
import {
  formatReport,
  hashDecision,
  median,
  MEMORY_LIMIT_BYTES,
  type BenchReport,
  type LimitedResult,
  type Diagnostics,
  type PhaseResult,
  type PipelinePhase,
  type RoundResult,
  type WorkloadResult,
} from './report';
import { startSimulator, type SimulatorProcess, type SimulatorStats } from './simulator';
import { startStack, type Stack } from './stack';
import { workload, type Workload } from './workloads';
import { MiB } from '../src/contracts/units';

const repo = join(__dirname, '..', '..');
const S3_ENV = { S3_KEY: DEV_S3_CREDENTIALS.accessKeyId, S3_SECRET: DEV_S3_CREDENTIALS.secretAccessKey };

async function main(): Promise<void> {
  // The SDK's notice about Node 22 is not about the bench; keep its output readable.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const options = parseOptions(process.argv.slice(2), repo);
  if (!existsSync(join(repo, 'dist/workflow-bundle.js')))
    throw new Error('dist/workflow-bundle.js is missing: run `npm run build` (npm run bench does it)');
  const progress = new Progress();
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    options: withoutOut(options),
    machine: { cores: machineLoad().cores, loadavgBefore: machineLoad().loadavg, loadavgAfter: [], node: process.version },
    settings: {
      batchSize: benchBatchSize(options.batchSize),
      concurrency: options.concurrency,
      partSizeMiB: options.partSizeMiB,
      transferConcurrency: options.concurrency,
      maxInFlight: options.concurrency,
    },
    workloads: {},
  };

  const wanted = options.only.filter((p): p is WorkloadName => (WORKLOAD_NAMES as readonly string[]).includes(p));
  if (options.only.includes('hash')) {
    // First, before any server runs: a CPU benchmark wants the machine to itself.
    const h = await runHashBench(options.hashMiB, 3, (line) => progress.update(line));
    progress.done();
    report.hash = { ...h, decision: hashDecision(h, null) };
  }

  const limited = options.only.includes(LIMITED);
  if (wanted.length > 0 || limited) {
    progress.update('starting Temporal, SeaweedFS and a scratch database');
    const stack = await startStack({ keep: options.keep });
    const stopStack = once(() => stack.stop());
    const onSignal = (sig: NodeJS.Signals) => {
      progress.done();
      console.error(`bench: ${sig}, stopping everything`);
      void stopStack().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const monitor = new PgClient({ connectionString: adminUrl(stack.database.url) });
    monitor.on('error', () => undefined);
    await monitor.connect();
    try {
      for (const [index, name] of wanted.entries()) {
        report.workloads[name] = await runWorkload(stack, monitor, options, workload(name, options.scale, index), progress);
      }
      if (limited) {
        // The descriptor's pace (room left for the workspace's other clients), then the whole published limit.
        report.limited = [];
        for (const transferPerSecond of [undefined, BIRD_PUBLISHED_GET_PER_SECOND])
          report.limited.push(
            await runLimited(stack, monitor, options, progress, wanted.length + report.limited.length, transferPerSecond),
          );
      }
    } finally {
      progress.done();
      await monitor.end().catch(() => undefined);
      await stopStack();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (options.keep) console.error(`bench: data, logs and profiles kept in ${stack.dataDir}`);
  }

  if (report.hash) report.hash.decision = hashDecision(report.hash, report.workloads.large?.integrity.readBackMiBps ?? null);
  report.machine.loadavgAfter = machineLoad().loadavg;
  report.finishedAt = new Date().toISOString();
  console.log(formatReport(report));
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nJSON summary: ${options.out}`);
}

async function runWorkload(
  stack: Stack,
  monitor: PgClient,
  options: BenchOptions,
  wl: Workload,
  progress: Progress,
): Promise<WorkloadResult> {
  const sim = await startSimulator({ seed: `bench-${wl.name}`, files: wl.files, size: wl.size, from: wl.from, to: wl.to });
  try {
    const rounds: RoundResult[] = [];
    const partSize = options.partSizeMiB * MiB;
    let lastPipelineName = '';
    for (let r = 1; r <= options.rounds; r++) {
      const tag = `${wl.name}${options.rounds > 1 ? ` r${r}` : ''}`;

      // The baseline, in a fresh process of its own as the pipeline's workers are.
      const baseName = uniqueName(`b-${wl.name}`);
      const storage = storageConfig(stack, baseName, options.partSizeMiB);
      const s3 = createS3Client(storage, { ...process.env, ...S3_ENV });
      await new ObjectStore(s3, baseName).ensureBucket();
      const child = await startBaseline({ ...process.env, ...S3_ENV });
      let baseline: PhaseResult;
      try {
        let done = 0;
        baseline = await measured(
          stack,
          monitor,
          sim,
          wl,
          `${tag} baseline`,
          progress,
          () => done,
          { baseline: new CpuMeter(() => [child.pid]) },
          async () => {
            const spec = { storage, sim: sim.info, bucket: baseName, window: wl, concurrency: options.concurrency, partSize };
            const res = await child.run(spec, (n) => (done = n));
            if (res.files !== wl.files || res.bytes !== wl.files * wl.size)
              throw new Error(`baseline moved ${res.files} files / ${res.bytes} bytes, expected ${wl.files} / ${wl.files * wl.size}`);
            return res;
          },
        );
      } finally {
        child.kill();
        await removeBucket(s3, baseName).finally(() => s3.destroy());
      }

      const rclone = await rclonePhase(stack, monitor, sim, wl, options, `${tag} rclone`, progress);

      // The pipeline.
      const name = uniqueName(`p-${wl.name}`);
      if (lastPipelineName) await removeBucketOf(stack, lastPipelineName, options.partSizeMiB);
      lastPipelineName = name;
      const pipeline = await pipelinePhase(stack, monitor, sim, wl, options, name, `${tag} pipeline`, progress);
      rounds.push({ baseline, rclone, pipeline, ratio: ratioOf(pipeline, baseline), rcloneRatio: ratioOf(rclone, baseline) });
    }

    progress.update(`${wl.name}: integrity spot-check`);
    const integrity = await spotCheck(stack, lastPipelineName, options.partSizeMiB);
    await removeBucketOf(stack, lastPipelineName, options.partSizeMiB);

    let diagnostics: Diagnostics | undefined;
    if (options.profile) {
      const name = uniqueName(`d-${wl.name}`);
      const profileDir = join(stack.dataDir, 'profiles', name);
      const d = await pipelinePhase(stack, monitor, sim, wl, options, name, `${wl.name} diagnostic pass`, progress, { profileDir });
      await removeBucketOf(stack, name, options.partSizeMiB);
      const perFile = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v / wl.files, 3)]));
      const counters = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('memory ')));
      const memory = (m: Record<string, number>) =>
        Object.fromEntries(
          Object.entries(m)
            .filter(([k]) => k.startsWith('memory '))
            .map(([k, v]) => [k.slice('memory peak MB '.length), v]),
        );
      diagnostics = {
        requestsPerFile: perFile({ ...counters(d.probe.transfers), ...prefixed('workflows worker: ', counters(d.probe.workflows)) }),
        memoryPeaksMB: { transfers: memory(d.probe.transfers), workflows: memory(d.probe.workflows) },
        temporalPerFile: perFile({
          ...d.temporal.activities,
          'workflow tasks': d.temporal.workflowTasks,
          'history events': d.temporal.events,
        }),
        postgresTransactionsPerFile: round(d.postgres.transactions / wl.files, 3),
        profiles: {},
        seconds: d.seconds,
      };
      for (const role of ['transfers', 'workflows'] as const) {
        const file = findProfile(join(profileDir, role));
        if (file) diagnostics.profiles[role] = summarizeProfile(file);
      }
    }

    const medianOf = (pick: (r: RoundResult) => { filesPerSecond: number; mibPerSecond: number }) => ({
      filesPerSecond: round(median(rounds.map((r) => pick(r).filesPerSecond)), 3),
      mibPerSecond: round(median(rounds.map((r) => pick(r).mibPerSecond)), 3),
    });
    const ratio = medianOf((r) => r.ratio);
    const rcloneRatio = medianOf((r) => r.rcloneRatio);
    const transfersPeakBytes = Math.max(...rounds.map((r) => r.pipeline.peakRss.transfers));
    const workflowsPeakBytes = Math.max(...rounds.map((r) => r.pipeline.peakRss.workflows));
    const judged = wl.target ? (wl.target.metric === 'MiB/s' ? ratio.mibPerSecond : ratio.filesPerSecond) : 0;
    return {
      workload: wl,
      rounds,
      ratio,
      rcloneRatio,
      verdict: wl.target ? { metric: wl.target.metric, ratio: judged, target: wl.target.ratio, met: judged >= wl.target.ratio } : null,
      memory: {
        transfersPeakBytes,
        workflowsPeakBytes,
        transfersAtReadyBytes: Math.max(...rounds.map((r) => r.pipeline.peakRss.transfersAtReady)),
        workflowsAtReadyBytes: Math.max(...rounds.map((r) => r.pipeline.peakRss.workflowsAtReady)),
        limitBytes: MEMORY_LIMIT_BYTES,
        met: transfersPeakBytes < MEMORY_LIMIT_BYTES && workflowsPeakBytes < MEMORY_LIMIT_BYTES,
      },
      integrity,
      ...(diagnostics ? { diagnostics } : {}),
    };
  } finally {
    await sim.stop();
  }
}

async function pipelinePhase(
  stack: Stack,
  monitor: PgClient,
  sim: SimulatorProcess,
  wl: Workload,
  options: BenchOptions,
  name: string,
  label: string,
  progress: Progress,
  extra: { profileDir?: string; rateLimit?: { transferPerSecond?: number } } = {},
): Promise<PipelinePhase & { probe: { transfers: Record<string, number>; workflows: Record<string, number> } }> {
  const before = await sim.stats();
  const startedAt = Date.now();
  const ticker = setInterval(() => {
    void sim.stats().then(
      (s) => progress.update(progressLine(label, wl, s, before, startedAt)),
      () => undefined,
    );
  }, 1000);
  try {
    const res = await runPipeline({
      stack,
      monitor,
      sim: sim.info,
      simPid: sim.pid,
      name,
      window: wl,
      expectedFiles: wl.files,
      concurrency: options.concurrency,
      partSizeMiB: options.partSizeMiB,
      batchSize: options.batchSize,
      ...(extra.profileDir ? { profileDir: extra.profileDir } : {}),
      ...(extra.rateLimit ? { rateLimit: extra.rateLimit } : {}),
      ...(options.workerRepo ? { workerRepo: options.workerRepo } : {}),
    });
    const after = await sim.stats();
    return {
      ...rates(res),
      cpu: res.cpu,
      providerRequests: requestDelta(before, after),
      peakRss: res.peakRss,
      temporal: res.temporal,
      postgres: res.postgres,
      probe: res.probe,
    };
  } finally {
    clearInterval(ticker);
  }
}

/** Bird's published rate limit: 50 GET/s per workspace (../shared/PROVIDERS.md). */
const BIRD_PUBLISHED_GET_PER_SECOND = 50;

/**
 * The rate-limited workload: small files through a simulator that enforces Bird's published
 * 50 GET/s on its API (429 + Retry-After beyond it), exported with the connection's published
 * limits (not lifted). Only the pipeline runs: the raw loop and rclone copy from the listing's
 * signed URLs and make no API request per file, so the limit does not bind them. The ceiling is
 * the limit over the API requests the pipeline made per file (429s not counted).
 */
async function runLimited(
  stack: Stack,
  monitor: PgClient,
  options: BenchOptions,
  progress: Progress,
  day: number,
  transferPerSecond: number | undefined,
): Promise<LimitedResult> {
  const files = Math.max(50, Math.round(1000 * options.scale));
  const wl: Workload = { ...workload('small', options.scale, day), files, target: null };
  const sim = await startSimulator({
    seed: `bench-limited-${day}`,
    files,
    size: wl.size,
    from: wl.from,
    to: wl.to,
    apiRequestsPerSecond: BIRD_PUBLISHED_GET_PER_SECOND,
  });
  const rateLimit: Record<string, number> = transferPerSecond === undefined ? {} : { transferPerSecond };
  try {
    const before = await sim.stats();
    const name = uniqueName('l-small');
    const label = transferPerSecond === undefined ? 'rate-limited pipeline' : `rate-limited pipeline, ${transferPerSecond}/s`;
    const phase = await pipelinePhase(stack, monitor, sim, wl, { ...options, batchSize: undefined }, name, label, progress, { rateLimit });
    const after = await sim.stats();
    await removeBucketOf(stack, name, options.partSizeMiB);
    const throttled = after.throttled - before.throttled;
    const apiRequests = (after.requests['bird-api'] ?? 0) - (before.requests['bird-api'] ?? 0) - throttled;
    const apiRequestsPerFile = apiRequests / files;
    const ceiling = BIRD_PUBLISHED_GET_PER_SECOND / apiRequestsPerFile;
    const conn = benchConnection(undefined, rateLimit);
    const limits = providerLimits(conn);
    return {
      files,
      size: wl.size,
      seconds: phase.seconds,
      filesPerSecond: phase.filesPerSecond,
      limitPerSecond: BIRD_PUBLISHED_GET_PER_SECOND,
      configuredTransferPerSecond: transferPerSecond ?? null,
      apiRequestsPerFile: round(apiRequestsPerFile, 3),
      storageRequestsPerFile: round(((after.requests['bird-storage'] ?? 0) - (before.requests['bird-storage'] ?? 0)) / files, 3),
      throttled,
      ceilingFilesPerSecond: round(ceiling, 2),
      shareOfCeiling: round(phase.filesPerSecond / ceiling, 3),
      pacedFilesPerSecond: round(limits.transferRequestsPerSecond / limits.requestsPerFile, 2),
      batchSize: transferBatchSize(conn),
      cpu: phase.cpu,
    };
  } finally {
    await sim.stop();
  }
}

/**
 * rclone copying the same files into a bucket of its own (bench/rclone.ts). Its CPU is the exact
 * figure bash's `times` reports once rclone is reaped, not the sampled one.
 */
async function rclonePhase(
  stack: Stack,
  monitor: PgClient,
  sim: SimulatorProcess,
  wl: Workload,
  options: BenchOptions,
  label: string,
  progress: Progress,
): Promise<PhaseResult> {
  const bucket = uniqueName(`r-${wl.name}`);
  const storage = storageConfig(stack, bucket, options.partSizeMiB);
  const s3 = createS3Client(storage, { ...process.env, ...S3_ENV });
  const bin = rcloneBinary(repo);
  try {
    await new ObjectStore(s3, bucket).ensureBucket();
    let pid = 0;
    let exactCpu = 0;
    const phase = await measured(
      stack,
      monitor,
      sim,
      wl,
      label,
      progress,
      () => 0,
      { rclone: new CpuMeter(() => (pid ? [pid] : [])) },
      async () => {
        const res = await runRclone(bin, {
          sim: sim.info,
          window: wl,
          endpoint: stack.seaweed.endpoint,
          accessKeyId: S3_ENV.S3_KEY,
          secretAccessKey: S3_ENV.S3_SECRET,
          bucket,
          concurrency: options.concurrency,
          partSizeMiB: options.partSizeMiB,
          workDir: stack.dataDir,
          onStart: (p) => (pid = p),
        });
        exactCpu = res.cpuSeconds;
        const stored = await storedUnder(s3, bucket, 'rclone/');
        if (stored.files !== wl.files || stored.bytes !== wl.files * wl.size)
          throw new Error(`rclone stored ${stored.files} files / ${stored.bytes} bytes, expected ${wl.files} / ${wl.files * wl.size}`);
        return { files: stored.files, bytes: stored.bytes, seconds: res.seconds };
      },
    );
    return { ...phase, cpu: { ...phase.cpu, rclone: round(exactCpu, 2) } };
  } finally {
    await removeBucket(s3, bucket).finally(() => s3.destroy());
  }
}

function ratioOf(p: PhaseResult, baseline: PhaseResult): { filesPerSecond: number; mibPerSecond: number } {
  return {
    filesPerSecond: round(p.filesPerSecond / baseline.filesPerSecond, 3),
    mibPerSecond: round(p.mibPerSecond / baseline.mibPerSecond, 3),
  };
}

/** Files, bytes and seconds of a phase, with its rates. */
function rates(res: { files: number; bytes: number; seconds: number }) {
  return {
    files: res.files,
    bytes: res.bytes,
    seconds: round(res.seconds, 3),
    filesPerSecond: round(res.files / res.seconds, 3),
    mibPerSecond: round(res.bytes / MiB / res.seconds, 3),
  };
}

/** Runs `work` with the CPU of every component metered and a progress line from the simulator's counters. */
async function measured(
  stack: Stack,
  monitor: PgClient,
  sim: SimulatorProcess,
  wl: Workload,
  label: string,
  progress: Progress,
  filesDone: () => number,
  meters: Meters,
  work: () => Promise<{ files: number; bytes: number; seconds: number }>,
): Promise<PhaseResult> {
  const sampler = new Sampler({
    ...meters,
    bench: new CpuMeter(() => [process.pid]),
    simulator: new CpuMeter(() => [sim.pid]),
    temporal: new CpuMeter(() => processTree(stack.temporal.process.pid)),
    s3: new CpuMeter(() => processTree(stack.seaweed.process.pid)),
    postgres: new CpuMeter(postgresBackends(monitor, stack.database.name)),
  });
  const before = await sim.stats();
  const startedAt = Date.now();
  const ticker = setInterval(() => {
    void sim.stats().then(
      (s) => progress.update(progressLine(label, wl, s, before, startedAt, filesDone())),
      () => undefined,
    );
  }, 1000);
  await sampler.start();
  try {
    const res = await work();
    const cpu = await sampler.stop();
    const after = await sim.stats();
    return {
      ...rates(res),
      cpu,
      providerRequests: requestDelta(before, after),
    };
  } finally {
    clearInterval(ticker);
    await sampler.stop().catch(() => undefined);
  }
}

function progressLine(label: string, wl: Workload, s: SimulatorStats, before: SimulatorStats, startedAt: number, files?: number): string {
  const bytes = s.mediaBytes - before.mediaBytes;
  const total = wl.files * wl.size;
  const secs = (Date.now() - startedAt) / 1000;
  const pct = Math.min(100, Math.floor((bytes / total) * 100));
  const filesPart = files !== undefined ? `${files}/${wl.files} files, ` : '';
  return `[${label}] ${pct}% ${filesPart}${(bytes / MiB).toFixed(0)}/${(total / MiB).toFixed(0)} MiB fetched, ${(bytes / MiB / Math.max(secs, 0.001)).toFixed(1)} MiB/s, ${secs.toFixed(0)} s`;
}

function requestDelta(before: SimulatorStats, after: SimulatorStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.requests)) out[k] = v - (before.requests[k] ?? 0);
  return out;
}

/** Reads one stored object back from the store, hashes it and compares with its provenance row. */
async function spotCheck(stack: Stack, bucket: string, partSizeMiB: number): Promise<WorkloadResult['integrity']> {
  const r = await stack.provenance.largestStored(bucket);
  if (!r) throw new Error(`no stored row for bucket ${bucket}`);
  const s3 = createS3Client(storageConfig(stack, bucket, partSizeMiB), { ...process.env, ...S3_ENV });
  try {
    const t0 = process.hrtime.bigint();
    const sha = await sha256OfObject(new ObjectStore(s3, bucket), r.objectKey);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { key: r.objectKey, sha256Matches: sha === r.sha256, readBackMiBps: round(r.size / MiB / seconds, 1) };
  } finally {
    s3.destroy();
  }
}

/**
 * Empties and deletes a bucket once its phase is measured. Every phase writes into a bucket of its
 * own, and SeaweedFS gives each bucket its own volumes: a few rounds of the full run would
 * otherwise run out of volumes (and keep tens of GiB on disk).
 */
async function removeBucket(s3: S3Client, bucket: string): Promise<void> {
  const keys: string[] = [];
  for await (const key of new ObjectStore(s3, bucket).listKeys('')) keys.push(key);
  // DeleteObjects takes at most 1,000 keys.
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }),
    );
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function removeBucketOf(stack: Stack, bucket: string, partSizeMiB: number): Promise<void> {
  const s3 = createS3Client(storageConfig(stack, bucket, partSizeMiB), { ...process.env, ...S3_ENV });
  await removeBucket(s3, bucket).finally(() => s3.destroy());
}

function storageConfig(stack: Stack, bucket: string, partSizeMiB: number) {
  return parseConfig({
    storage: {
      endpoint: stack.seaweed.endpoint,
      bucket,
      accessKeyId: { env: 'S3_KEY' },
      secretAccessKey: { env: 'S3_SECRET' },
      partSizeMiB,
    },
    connections: {},
  }).storage;
}

/** Files per transfer activity of the bench's connection: the option, or what the lifted rate limit chooses. */
function benchBatchSize(batchSize: number | undefined): number {
  return transferBatchSize(benchConnection(batchSize, LIFTED_RATE_LIMIT));
}

/** The bench's Bird connection as the configuration parses it, for its batch size and pace. */
function benchConnection(batchSize: number | undefined, rateLimit: Record<string, number>) {
  const conn = {
    provider: 'bird',
    workspaceId: 'w',
    accessKey: { env: 'K' },
    rateLimit,
    ...(batchSize !== undefined ? { batchSize } : {}),
  };
  return parseConfig({ storage: { bucket: 'x-x' }, connections: { c: conn } }).connections.c!;
}

function prefixed(prefix: string, m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [`${prefix}${k}`, v]));
}

function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

function adminUrl(url: string): string {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

function withoutOut(o: BenchOptions): Omit<BenchOptions, 'out'> {
  const { out: _out, ...rest } = o;
  return rest;
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
