import type { CallvaultConfig } from '../config/schema';
import { ProvenanceStore } from '../provenance/store';
import { ObjectStore } from '../storage/objectStore';
import { createS3Client } from '../storage/s3';
import { adoptionLine, jsonReport, problemLine, progressText, summaryLine } from './output';
import { resolveTargets, UnknownTargetError } from './targets';
import { verify, type VerifySink, type VerifySummary } from './verify';
import { errorMessage } from '../contracts/failures';

export interface VerifyCommandOptions {
  connection?: string;
  export?: string;
  repair?: boolean;
  /** false with --no-content */
  content: boolean;
  /** false with --no-bucket */
  bucket: boolean;
  json?: boolean;
}

/** Exit codes of `callvault verify`. */
export const VERIFY_EXIT = { clean: 0, problems: 1, unknownTarget: 2, failed: 3 } as const;

/** A redraw at most this often on a terminal. */
const PROGRESS_EVERY_MS = 200;

/**
 * `callvault verify`: findings on stdout as they are found (a line each, or one JSON document
 * with --json), progress on stderr when it is a terminal, then the summary. Returns the exit code.
 */
export async function runVerifyCommand(config: CallvaultConfig, opts: VerifyCommandOptions): Promise<number> {
  // One pooled session holds the manifest index's temporary table; the others serve the pages.
  const provenance = ProvenanceStore.connect(config.database.url, 3);
  const s3 = createS3Client(config.storage);
  const progress = terminalProgress(process.stderr);
  try {
    const targets = await resolveTargets(provenance, {
      connections: config.connections,
      connection: opts.connection,
      workflowId: opts.export,
    });
    const out = (text: string) => {
      progress.done();
      process.stdout.write(text);
    };
    const json = opts.json ? jsonReport(out) : null;
    const sink: VerifySink = json
      ? { problem: json.problem, adopted: json.adopted, progress: progress.update }
      : { problem: (p) => out(`${problemLine(p)}\n`), adopted: (a) => out(`${adoptionLine(a)}\n`), progress: progress.update };
    const summary = await verify(
      { provenance, store: new ObjectStore(s3, config.storage.bucket, config.storage.checksums) },
      targets,
      { keyPrefix: config.storage.prefix, content: opts.content, walkBucket: opts.bucket, repair: opts.repair === true },
      sink,
    );
    progress.done();
    if (json) json.end(summary);
    else out(`${summaryLine(summary)}\n`);
    return summary.problems > 0 ? VERIFY_EXIT.problems : VERIFY_EXIT.clean;
  } catch (err) {
    progress.done();
    const message = errorMessage(err);
    if (err instanceof UnknownTargetError) {
      console.error(`callvault verify: ${message}`);
      return VERIFY_EXIT.unknownTarget;
    }
    console.error(`callvault verify: could not finish: ${message}`);
    return VERIFY_EXIT.failed;
  } finally {
    await provenance.close();
    s3.destroy();
  }
}

function terminalProgress(stream: NodeJS.WriteStream): { update(s: VerifySummary, connection: string): void; done(): void } {
  let drawn = false;
  let last = 0;
  return {
    update(s, connection) {
      const now = Date.now();
      if (!stream.isTTY || now - last < PROGRESS_EVERY_MS) return;
      last = now;
      drawn = true;
      stream.write(`\r\x1b[2K${progressText(s, connection)}`);
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
