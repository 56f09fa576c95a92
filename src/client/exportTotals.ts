import { GROUP_CODES, isFinalCode, outcomeOf, type ExportOutcome } from '../contracts/exportFailures';
import type { ExportFileSummary } from '../provenance/store';

/**
 * A window's totals as provenance has them: every run of an export has the same workflow id, so
 * its rows are the window's, whichever run wrote them (a rerun that transfers nothing does not make
 * the window look empty, and a retry that stores a failed file turns its failed row into a stored one).
 */
export interface WindowTotals {
  stored: number;
  storedBytes: number;
  failed: number;
  /** Failed files per failure code. */
  failedByCode: Record<string, number>;
  /** What the failed rows say: none, only the platform's final word, or some given up. */
  outcome: ExportOutcome;
}

export function windowTotals(rows: readonly ExportFileSummary[]): WindowTotals {
  const totals = { stored: 0, storedBytes: 0, failed: 0, failedByCode: {} as Record<string, number> };
  const rank = (code: string | null) => (GROUP_CODES as readonly (string | null)[]).indexOf(code) >>> 0;
  for (const r of [...rows].sort((a, b) => rank(a.failureCode) - rank(b.failureCode))) {
    if (r.status === 'stored') {
      totals.stored += r.files;
      totals.storedBytes += r.bytes;
    } else {
      totals.failed += r.files;
      const code = r.failureCode ?? 'unknown';
      totals.failedByCode[code] = (totals.failedByCode[code] ?? 0) + r.files;
    }
  }
  const groups = Object.entries(totals.failedByCode).map(([code, count]) => ({ count, final: isFinalCode(code) }));
  return { ...totals, outcome: outcomeOf({ groups }) };
}

/** `4 failed (2 not_found, 2 gave_up)` */
export function failedText(t: Pick<WindowTotals, 'failed' | 'failedByCode'>): string {
  const codes = Object.entries(t.failedByCode).map(([code, n]) => `${n} ${code}`);
  return `${t.failed} failed${codes.length ? ` (${codes.join(', ')})` : ''}`;
}
