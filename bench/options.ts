import { join } from 'node:path';

export const WORKLOAD_NAMES = ['large', 'single', 'middle', 'small'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];
/** The rate-limited workload: the pipeline alone, against a simulator enforcing Bird's published limit. */
export const LIMITED = 'limited';
export type Part = WorkloadName | typeof LIMITED | 'hash';
const PARTS: readonly Part[] = [...WORKLOAD_NAMES, LIMITED, 'hash'];

export interface BenchOptions {
  /** Multiplies the amount of work (files, or bytes for `large`); 1 is the full run. */
  scale: number;
  /** What to run, in this order. */
  only: Part[];
  /** Files in flight at once, for the baseline and the pipeline alike. */
  concurrency: number;
  partSizeMiB: number;
  /** Files per transfer activity; undefined keeps the configuration default. */
  batchSize: number | undefined;
  /** Baseline + pipeline pairs per workload; the report shows the median ratio. */
  rounds: number;
  /** Adds a diagnostic pass per workload: --cpu-prof on the workers and a request counter. */
  profile: boolean;
  /** Keep the stack's data folder (logs, profiles) instead of removing it. */
  keep: boolean;
  out: string;
  /** MiB hashed by the hash benchmark. */
  hashMiB: number;
  /** Run the workers from another checkout's build (A/B comparison of a change). */
  workerRepo: string | undefined;
}

const USAGE = `usage: npm run bench -- [options]
  --scale <f>          amount of work, 1 = full run (4 x 1 GiB, 1 x 1 GiB, 200 x 5 MiB, 2000 x 64 KiB; limited: 1000 x 64 KiB); 0.05 for a quick look
  --only <list>        comma-separated: large,single,middle,small,limited,hash (default: all)
  --concurrency <n>    files in flight, baseline and pipeline alike (default 8)
  --part-size <MiB>    multipart part size (default 8, the configuration default)
  --batch-size <n>     files per transfer activity (default: the configuration default)
  --rounds <n>         baseline/pipeline pairs per workload, median reported (default 1)
  --profile            also run each workload once more with --cpu-prof and request counters
  --keep               keep the data folder (logs, profiles)
  --out <file>         JSON summary (default bench/results/latest.json)
  --hash-mib <n>       MiB hashed by the hash benchmark (default 256)
  --worker-repo <dir>  run the workers from another built checkout (A/B comparison of a change)`;

export function parseOptions(argv: readonly string[], repo: string): BenchOptions {
  const o: BenchOptions = {
    scale: 1,
    only: [...PARTS],
    concurrency: 8,
    partSizeMiB: 8,
    batchSize: undefined,
    rounds: 1,
    profile: false,
    keep: false,
    out: join(repo, 'bench', 'results', 'latest.json'),
    hashMiB: 256,
    workerRepo: undefined,
  };
  const args = [...argv];
  const value = (flag: string): string => {
    const v = args.shift();
    if (v === undefined) fail(`${flag} needs a value`);
    return v;
  };
  const number = (flag: string, min: number, integer: boolean): number => {
    const n = Number(value(flag));
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
      fail(`${flag}: expected ${integer ? 'a whole number' : 'a number'} >= ${min}`);
    return n;
  };
  while (args.length > 0) {
    const raw = args.shift()!;
    const [flag, inline] = raw.includes('=') ? [raw.slice(0, raw.indexOf('=')), raw.slice(raw.indexOf('=') + 1)] : [raw, undefined];
    if (inline !== undefined) args.unshift(inline);
    switch (flag) {
      case '--scale':
        o.scale = number(flag, 0.001, false);
        break;
      case '--only': {
        const parts = value(flag)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) fail(`--only: unknown part '${p}'`);
        o.only = PARTS.filter((p) => parts.includes(p));
        break;
      }
      case '--concurrency':
        o.concurrency = number(flag, 1, true);
        break;
      case '--part-size':
        o.partSizeMiB = number(flag, 5, true);
        break;
      case '--batch-size':
        o.batchSize = number(flag, 1, true);
        break;
      case '--rounds':
        o.rounds = number(flag, 1, true);
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--out':
        o.out = value(flag);
        break;
      case '--hash-mib':
        o.hashMiB = number(flag, 1, true);
        break;
      case '--worker-repo':
        o.workerRepo = value(flag);
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown option '${raw}'`);
    }
  }
  if (o.concurrency > 500) fail('--concurrency: at most 500 (the export workflow allows 500 in flight)');
  return o;
}

function fail(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}
