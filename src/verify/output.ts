import { formatBytes } from '../contracts/units';
import type { Adoption, VerifyProblem } from './findings';
import type { VerifySummary } from './verify';

/** One line per finding, prefixed by what it is, so `grep ^ORPHAN` and the like work. */
export function problemLine(p: VerifyProblem): string {
  const source = p.sourceId === null ? '' : ` (source ${p.sourceId})`;
  switch (p.kind) {
    case 'row':
      return `MISMATCH ${p.key}${source}: ${p.problem}`;
    case 'orphan':
      return `ORPHAN ${p.key}${source}: ${p.problem}`;
    case 'manifest':
      return `MANIFEST ${p.key}: ${p.problem}`;
  }
}

export function adoptionLine(a: Adoption): string {
  return `ADOPTED ${a.key} (source ${a.sourceId}): stored row written from ${a.manifestKey}${a.replacedFailedRow ? ', replacing a failed row' : ''}`;
}

/**
 * The last line of `callvault verify`, in a fixed shape scripts can match:
 * `verified <n> objects in <c> connection(s) (<size>), listed <m> in the bucket, <o> without a row, <a> adopted: <p> problems`
 * (`bucket not listed` instead of `listed <m> in the bucket` with --no-bucket).
 */
export function summaryLine(s: VerifySummary): string {
  const listed = s.listed === null ? 'bucket not listed' : `listed ${s.listed} in the bucket`;
  const connections = `${s.connections} connection${s.connections === 1 ? '' : 's'}`;
  return `verified ${s.checked} objects in ${connections} (${formatBytes(s.bytes)}), ${listed}, ${s.orphans} without a row, ${s.adopted} adopted: ${s.problems} problems`;
}

export function progressText(s: VerifySummary, connection: string): string {
  const listed = s.listed === null ? '' : `, listed ${s.listed}`;
  return `${connection}: checked ${s.checked} objects (${formatBytes(s.bytes)})${listed}, ${s.problems} problems`;
}

/**
 * The --json report written as it is found, so a bucket of millions costs no memory:
 * `{"findings": [{"kind": "row" | "orphan" | "manifest" | "adopted", ...}, ...], "summary": {...}}`.
 */
export function jsonReport(write: (text: string) => void): {
  problem(p: VerifyProblem): void;
  adopted(a: Adoption): void;
  end(s: VerifySummary): void;
} {
  let first = true;
  const finding = (value: object) => {
    write(`${first ? '{"findings": [\n' : ',\n'}${JSON.stringify(value)}`);
    first = false;
  };
  return {
    problem: (p) => finding(p),
    adopted: (a) => finding({ kind: 'adopted', ...a }),
    end: (s) => write(`${first ? '{"findings": [' : '\n'}],\n"summary": ${JSON.stringify(s)}}\n`),
  };
}
