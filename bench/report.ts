import type { HashResult } from './hash';
import type { BenchOptions, WorkloadName } from './options';
import type { PipelineResult } from './pipeline';
import type { ProfileSummary } from './profile';
import { describeSize, type Workload } from './workloads';
import { MiB } from '../src/contracts/units';

export interface PhaseResult {
  files: number;
  bytes: number;
  seconds: number;
  filesPerSecond: number;
  mibPerSecond: number;
  /** CPU seconds per component during the phase. */
  cpu: Record<string, number>;
  /** Requests the simulator answered during the phase, by server. */
  providerRequests: Record<string, number>;
}

export interface PipelinePhase extends PhaseResult {
  peakRss: PipelineResult['peakRss'];
  temporal: PipelineResult['temporal'];
  postgres: PipelineResult['postgres'];
}

export interface Ratio {
  filesPerSecond: number;
  mibPerSecond: number;
}

export interface RoundResult {
  baseline: PhaseResult;
  /** rclone copyurl over the same files (bench/rclone.ts). */
  rclone: PhaseResult;
  pipeline: PipelinePhase;
  /** pipeline / baseline. */
  ratio: Ratio;
  /** rclone / baseline. */
  rcloneRatio: Ratio;
}

export interface Diagnostics {
  /** Requests per file, from the request counter preloaded in the workers (diagnostic pass). */
  requestsPerFile: Record<string, number>;
  /** Peaks of process.memoryUsage() (rss, heapTotal, heapUsed, external, arrayBuffers) per worker, MB. */
  memoryPeaksMB: { transfers: Record<string, number>; workflows: Record<string, number> };
  temporalPerFile: Record<string, number>;
  postgresTransactionsPerFile: number;
  profiles: Partial<Record<'transfers' | 'workflows', ProfileSummary>>;
  seconds: number;
}

export interface WorkloadResult {
  workload: Workload;
  rounds: RoundResult[];
  /** pipeline / baseline, median over rounds. */
  ratio: Ratio;
  /** rclone / baseline, median over rounds. */
  rcloneRatio: Ratio;
  /** The ratio the target judges, and whether it is met; null when this workload has no target. */
  verdict: { metric: string; ratio: number; target: number; met: boolean } | null;
  memory: {
    transfersPeakBytes: number;
    workflowsPeakBytes: number;
    /** VmHWM right after start-up, before any work. */
    transfersAtReadyBytes: number;
    workflowsAtReadyBytes: number;
    limitBytes: number;
    met: boolean;
  };
  integrity: { key: string; sha256Matches: boolean; readBackMiBps: number };
  diagnostics?: Diagnostics;
}

/** The rate-limited workload (pipeline only): files/s against the ceiling the platform's limit sets. */
export interface LimitedResult {
  files: number;
  size: number;
  seconds: number;
  filesPerSecond: number;
  /** The platform's published limit the simulator enforced, API requests per second. */
  limitPerSecond: number;
  /** The connection's `rateLimit.transferPerSecond`, or null for the provider descriptor's pace. */
  configuredTransferPerSecond: number | null;
  /** API requests the pipeline made per file, listing included, 429s not counted. */
  apiRequestsPerFile: number;
  /** Requests per file to the storage origin the signed URLs point at (not rate limited). */
  storageRequestsPerFile: number;
  /** Requests the simulator refused with 429. */
  throttled: number;
  /** limitPerSecond / apiRequestsPerFile. */
  ceilingFilesPerSecond: number;
  shareOfCeiling: number;
  /** The pace the worker's task queue is set to: the descriptor's transfer requests/s over its requests per file. */
  pacedFilesPerSecond: number;
  batchSize: number;
  cpu: Record<string, number>;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  options: Omit<BenchOptions, 'out'>;
  machine: { cores: number; loadavgBefore: number[]; loadavgAfter: number[]; node: string };
  settings: { batchSize: number; concurrency: number; partSizeMiB: number; transferConcurrency: number; maxInFlight: number };
  workloads: Partial<Record<WorkloadName, WorkloadResult>>;
  limited?: LimitedResult[];
  hash?: HashResult & { decision: string };
}

export const MEMORY_LIMIT_BYTES = 200 * 1000 * 1000;

const COMPONENTS: Array<[string, string]> = [
  ['bench', 'bench'],
  ['baseline', 'baseline'],
  ['rclone', 'rclone'],
  ['simulator', 'sim'],
  ['workerTransfers', 'worker:t'],
  ['workerWorkflows', 'worker:w'],
  ['temporal', 'temporal'],
  ['s3', 's3'],
  ['postgres', 'postgres'],
];

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const lpad = (s: string | number, n: number) => String(s).padStart(n);
const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  const s = r.settings;
  out.push(
    `callvault bench: scale ${r.options.scale}, concurrency ${s.concurrency} (baseline loops = worker transferConcurrency = export maxInFlight), ` +
      `part ${s.partSizeMiB} MiB, ${s.batchSize} files per transfer activity, ${r.options.rounds} round(s)`,
  );
  out.push(
    `machine: ${r.machine.cores} cores, node ${r.machine.node}, load average ${r.machine.loadavgBefore.join(' ')} before, ${r.machine.loadavgAfter.join(' ')} after ` +
      `(other work on this machine makes the figures noisy)`,
  );
  for (const w of Object.values(r.workloads)) {
    if (!w) continue;
    const wl = w.workload;
    out.push('');
    out.push(`${wl.name}: ${wl.files} x ${describeSize(wl.size)} (${describeSize(wl.files * wl.size)})`);
    out.push(`  ${pad('', 20)}${lpad('files/s', 10)}${lpad('MiB/s', 10)}${lpad('seconds', 10)}`);
    w.rounds.forEach((round, i) => {
      const tag = w.rounds.length > 1 ? ` r${i + 1}` : '';
      for (const [label, p] of phasesOf(round)) {
        out.push(`  ${pad(label + tag, 20)}${lpad(f(p.filesPerSecond), 10)}${lpad(f(p.mibPerSecond, 1), 10)}${lpad(f(p.seconds, 1), 10)}`);
      }
      out.push(`  ${pad(`ratio pipeline${tag}`, 20)}${lpad(f(round.ratio.filesPerSecond), 10)}${lpad(f(round.ratio.mibPerSecond), 10)}`);
      out.push(
        `  ${pad(`ratio rclone${tag}`, 20)}${lpad(f(round.rcloneRatio.filesPerSecond), 10)}${lpad(f(round.rcloneRatio.mibPerSecond), 10)}`,
      );
    });
    if (w.rounds.length > 1) {
      out.push(`  ${pad('ratio pipeline (med)', 20)}${lpad(f(w.ratio.filesPerSecond), 10)}${lpad(f(w.ratio.mibPerSecond), 10)}`);
      out.push(`  ${pad('ratio rclone (med)', 20)}${lpad(f(w.rcloneRatio.filesPerSecond), 10)}${lpad(f(w.rcloneRatio.mibPerSecond), 10)}`);
    }
    if (w.verdict) {
      out.push(
        `  target: pipeline/baseline ${w.verdict.metric} >= ${f(w.verdict.target)}: ${f(w.verdict.ratio)} -> ${w.verdict.met ? 'met' : 'NOT MET'}`,
      );
    }
    out.push(
      `  worker peak RSS (VmHWM): transfers ${mb(w.memory.transfersPeakBytes)}, workflows ${mb(w.memory.workflowsPeakBytes)} ` +
        `(after start-up, before work: ${mb(w.memory.transfersAtReadyBytes)} / ${mb(w.memory.workflowsAtReadyBytes)}); limit ${mb(w.memory.limitBytes)} -> ${w.memory.met ? 'met' : 'NOT MET'}`,
    );
    out.push(`  CPU seconds    ${COMPONENTS.map(([, label]) => lpad(label, 10)).join('')}`);
    w.rounds.forEach((round, i) => {
      const tag = w.rounds.length > 1 ? ` r${i + 1}` : '';
      for (const [label, p] of phasesOf(round)) {
        out.push(`    ${pad(label + tag, 11)}${COMPONENTS.map(([k]) => lpad(p.cpu[k] === undefined ? '-' : f(p.cpu[k]!), 10)).join('')}`);
      }
    });
    out.push(`  CPU ms per file, by process (median round): ${cpuPerFileLine(w.rounds, w)}`);
    const last = w.rounds[w.rounds.length - 1]!;
    const n = last.pipeline.files;
    const acts = Object.entries(last.pipeline.temporal.activities)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.push(
      `  per file (pipeline): provider requests ${f(sum(last.pipeline.providerRequests) / n)} (baseline ${f(sum(last.baseline.providerRequests) / n)}), ` +
        `Postgres transactions ${f(last.pipeline.postgres.transactions / n)}, Temporal activities ${f(sum(last.pipeline.temporal.activities) / n)} ` +
        `(${acts}; ${last.pipeline.temporal.workflowTasks} workflow tasks, ${last.pipeline.temporal.events} events in ${last.pipeline.temporal.runs} run(s))`,
    );
    out.push(
      `  integrity spot-check: ${w.integrity.key.split('/').pop()} read back at ${f(w.integrity.readBackMiBps, 0)} MiB/s, SHA-256 ${w.integrity.sha256Matches ? 'matches provenance' : 'DOES NOT MATCH provenance'}`,
    );
    if (w.diagnostics) {
      const d = w.diagnostics;
      out.push(`  diagnostic pass (--profile, not timed for the ratio: ${f(d.seconds, 1)} s):`);
      out.push(
        `    requests per file: ${Object.entries(d.requestsPerFile)
          .map(([k, v]) => `${k} ${f(v)}`)
          .join(', ')}`,
      );
      out.push(
        `    Temporal per file: ${Object.entries(d.temporalPerFile)
          .map(([k, v]) => `${k} ${f(v, 3)}`)
          .join(', ')}; Postgres transactions per file ${f(d.postgresTransactionsPerFile)}`,
      );
      for (const [role, m] of Object.entries(d.memoryPeaksMB)) {
        out.push(
          `    ${role} worker memory peaks (MB, process.memoryUsage): ${Object.entries(m)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
      }
      for (const [role, p] of Object.entries(d.profiles)) {
        if (!p) continue;
        out.push(`    ${role} worker profile: busy ${f(p.busySeconds, 1)} s, idle ${f(p.idleSeconds, 1)} s; self time by area:`);
        for (const a of p.byArea.slice(0, 8))
          out.push(`      ${lpad(`${(a.share * 100).toFixed(1)}%`, 7)} ${lpad(f(a.seconds), 7)} s  ${a.area}`);
        out.push(
          `      top functions: ${p.topFunctions
            .slice(0, 6)
            .map((t) => `${t.fn} ${(t.share * 100).toFixed(1)}%`)
            .join('; ')}`,
        );
      }
    }
  }
  if (r.hash) {
    const h = r.hash;
    out.push('');
    out.push(
      `hash: SHA-256 of ${h.mib} MiB in 64 KiB chunks, best of ${h.rounds}: node:crypto ${h.cryptoMiBps} MiB/s, hash-wasm ${h.wasmMiBps} MiB/s ` +
        `(${h.wasmWithSaveMiBps} MiB/s saving its ${h.stateBytes}-byte state every 8 MiB part); hash-wasm takes ${f(h.ratio)}x as long`,
    );
    out.push(`  ${h.decision}`);
  }
  for (const l of r.limited ?? []) out.push('', ...limitedLines(l, r.options.workerRepo));
  const verdicts = Object.values(r.workloads).filter((w): w is WorkloadResult => !!w);
  if (verdicts.length > 0 || r.limited) {
    out.push('');
    out.push(
      `${verdicts.some((w) => w.rounds.length > 1) ? 'summary (rates of the median round)' : 'summary'}: ${r.options.rounds} round(s), scale ${r.options.scale}, ` +
        `load average ${r.machine.loadavgBefore.join(' ')} before, ${r.machine.loadavgAfter.join(' ')} after, ${r.machine.cores} cores`,
    );
    out.push(
      `  ${pad('workload', 10)}${lpad('raw loop', 16)}${lpad('callvault', 16)}${lpad('rclone', 16)}${lpad('cv/raw', 8)}${lpad('rc/raw', 8)}  ` +
        `${pad('CPU ms/file raw / cv / rc', 28)}${pad('target', 18)}worker peak RSS t / w`,
    );
    for (const w of verdicts) {
      const byFiles = judgedByFiles(w);
      const unit = byFiles ? 'files/s' : 'MiB/s';
      const pick = (p: PhaseResult) => (byFiles ? p.filesPerSecond : p.mibPerSecond);
      const pickRatio = (x: Ratio) => (byFiles ? x.filesPerSecond : x.mibPerSecond);
      const m = medianRound(w);
      const cpu = [m.baseline, m.pipeline, m.rclone].map((p) => f((cpuTotal(p) * 1000) / p.files)).join(' / ');
      const target = w.verdict ? `>= ${f(w.verdict.target)} ${w.verdict.met ? 'met' : 'NOT MET'}` : '(none)';
      out.push(
        `  ${pad(w.workload.name, 10)}${lpad(`${f(pick(m.baseline), 1)} ${unit}`, 16)}${lpad(`${f(pick(m.pipeline), 1)} ${unit}`, 16)}${lpad(`${f(pick(m.rclone), 1)} ${unit}`, 16)}` +
          `${lpad(f(pickRatio(w.ratio)), 8)}${lpad(f(pickRatio(w.rcloneRatio)), 8)}  ${pad(cpu, 28)}${pad(target, 18)}` +
          `${mb(w.memory.transfersPeakBytes)} / ${mb(w.memory.workflowsPeakBytes)} ${w.memory.met ? '(< 200 MB)' : '(OVER 200 MB)'}`,
      );
    }
    for (const l of r.limited ?? []) {
      out.push(
        `  ${pad(limitedName(l), 10)}${lpad('-', 16)}${lpad(`${f(l.filesPerSecond, 1)} files/s`, 16)}${lpad('-', 16)}  ` +
          `ceiling ${f(l.ceilingFilesPerSecond, 1)} files/s (${l.limitPerSecond} GET/s / ${f(l.apiRequestsPerFile, 3)} API requests per file): ${f(l.shareOfCeiling * 100, 0)}% of it, ${l.throttled} answered 429`,
      );
    }
  }
  return out.join('\n');
}

function phasesOf(round: RoundResult): Array<[string, PhaseResult]> {
  return [
    ['baseline', round.baseline],
    ['rclone', round.rclone],
    ['pipeline', round.pipeline],
  ];
}

/** The round whose pipeline ratio (by the workload's metric) is the median: its rates agree with the ratio shown. */
function medianRound(w: WorkloadResult): RoundResult {
  const byFiles = judgedByFiles(w);
  const ratioOf = (r: RoundResult) => (byFiles ? r.ratio.filesPerSecond : r.ratio.mibPerSecond);
  const ratio = byFiles ? w.ratio.filesPerSecond : w.ratio.mibPerSecond;
  return w.rounds.reduce((best, r) => (Math.abs(ratioOf(r) - ratio) < Math.abs(ratioOf(best) - ratio) ? r : best));
}

function judgedByFiles(w: WorkloadResult): boolean {
  return w.workload.target?.metric === 'files/s' || (w.workload.target === null && w.workload.size < 8 * MiB);
}

/** CPU ms per file of each process, per phase ("rclone: rclone 2.25, sim 0.75, s3 2.25 = 5.25"); the bench's own process left out. */
function cpuPerFileLine(rounds: RoundResult[], w?: WorkloadResult): string {
  const round = w ? medianRound(w) : rounds[Math.floor(rounds.length / 2)]!;
  return phasesOf(round)
    .map(([label, p]) => {
      const parts = COMPONENTS.filter(([k]) => k !== 'bench' && (p.cpu[k] ?? 0) >= 0.005).map(
        ([k, l]) => `${l} ${f((p.cpu[k]! * 1000) / p.files)}`,
      );
      return `${label}: ${parts.join(', ')} = ${f((cpuTotal(p) * 1000) / p.files)}`;
    })
    .join('; ');
}

/** CPU seconds of every process of a phase, the bench's own left out (it only meters and lists). */
function cpuTotal(p: PhaseResult): number {
  return Object.entries(p.cpu)
    .filter(([k]) => k !== 'bench')
    .reduce((a, [, v]) => a + v, 0);
}

/** `limited` at the descriptor's pace, `limited@50` with the connection's transfer rate set to 50/s. */
function limitedName(l: LimitedResult): string {
  return l.configuredTransferPerSecond === null ? 'limited' : `limited@${l.configuredTransferPerSecond}`;
}

function limitedLines(l: LimitedResult, workerRepo: string | undefined): string[] {
  const whose = workerRepo ? ` (this checkout's descriptor: the workers from ${workerRepo} may pace differently)` : '';
  const pace =
    l.configuredTransferPerSecond === null
      ? "the provider's published pace"
      : `rateLimit.transferPerSecond ${l.configuredTransferPerSecond} (the whole published limit)`;
  return [
    `${limitedName(l)}: ${l.files} x ${describeSize(l.size)} through a simulator enforcing ${l.limitPerSecond} API GET/s (429 + Retry-After beyond it); ${pace}, ${l.batchSize} files per transfer activity${whose}`,
    `  pipeline ${f(l.filesPerSecond)} files/s in ${f(l.seconds, 1)} s; ceiling ${f(l.ceilingFilesPerSecond, 1)} files/s = ${l.limitPerSecond} / ${f(l.apiRequestsPerFile, 3)} API requests per file (listing included, 429s not): ${f(l.shareOfCeiling * 100, 0)}% of the ceiling`,
    `  ${l.throttled} requests answered 429; ${f(l.storageRequestsPerFile, 2)} storage-origin requests per file (signed URLs, not limited); the worker paces transfers at ${f(l.pacedFilesPerSecond, 1)} files/s (transfer requests/s over requests per file)${whose}`,
    `  CPU seconds: ${COMPONENTS.filter(([k]) => l.cpu[k] !== undefined)
      .map(([k, label]) => `${label} ${f(l.cpu[k]!)}`)
      .join(', ')}`,
  ];
}

function sum(m: Record<string, number>): number {
  return Object.values(m).reduce((a, b) => a + b, 0);
}

export function hashDecision(h: HashResult, readBackMiBps: number | null): string {
  const extraPerMiB = 1 / h.wasmMiBps - 1 / h.cryptoMiBps;
  if (readBackMiBps === null || !Number.isFinite(readBackMiBps) || readBackMiBps <= 0) {
    return `decision: keep node:crypto + read-back after a resume (hash-wasm costs ${(extraPerMiB * 1000).toFixed(2)} ms more CPU per MiB on every transfer; run the large workload to weigh it against the read-back rate)`;
  }
  const readBackPerMiB = 1 / readBackMiBps;
  const breakEven = extraPerMiB / readBackPerMiB;
  return (
    `decision: node:crypto + read-back after a resume. Carrying hash-wasm state costs ${(extraPerMiB * 1000).toFixed(2)} ms of worker CPU per MiB on every transfer; ` +
    `a read-back costs ${(readBackPerMiB * 1000).toFixed(2)} ms per MiB (measured ${readBackMiBps.toFixed(0)} MiB/s from the store) but only for resumed files: ` +
    `read-back wins unless more than ${(breakEven * 100).toFixed(0)}% of the bytes moved belong to resumed files`
  );
}
