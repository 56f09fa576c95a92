import type { ProvenanceStore } from '../provenance/store';
import { manifestsPrefix } from '../storage/keys';
import { readManifests, type ManifestIndex } from '../storage/manifests';
import type { ObjectStore } from '../storage/objectStore';
import { sha256OfObject } from '../transfer/verify';

export interface VerifyFilter {
  connection?: string;
  workflowId?: string;
}

export interface VerifyOptions extends VerifyFilter {
  /** The configured key prefix (storage.prefix): where the connections' manifests are. */
  keyPrefix: string;
}

export interface VerifyProblem {
  sourceId: string;
  key: string;
  problem: string;
}

export interface VerifyReport {
  checked: number;
  bytes: number;
  problems: VerifyProblem[];
}

/**
 * Re-reads every stored object that provenance lists and checks it against its row: present,
 * same size, same SHA-256 (recomputed from the bytes), same SHA-256 in the object's metadata, and
 * an entry saying the same in one of the connection's manifests.
 */
export async function verifyObjects(
  provenance: ProvenanceStore,
  store: ObjectStore,
  filter: VerifyOptions,
  onChecked: (report: VerifyReport) => void = () => undefined,
): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, bytes: 0, problems: [] };
  const rows = await provenance.pool.query<{ source_id: string; provider: string; connection: string; object_key: string; bucket: string; size_bytes: string; sha256: string }>(
    `SELECT source_id, provider, connection, object_key, bucket, size_bytes, sha256 FROM callvault.files
      WHERE status = 'stored' AND ($1::text IS NULL OR connection = $1) AND ($2::text IS NULL OR workflow_id = $2)
      ORDER BY id`,
    [filter.connection ?? null, filter.workflowId ?? null],
  );
  const manifests = new Map<string, ManifestIndex>();
  const manifestsOf = async (provider: string, connection: string): Promise<ManifestIndex> => {
    const prefix = manifestsPrefix({ prefix: filter.keyPrefix, provider, connection });
    let index = manifests.get(prefix);
    if (!index) {
      index = await readManifests(store, prefix);
      for (const u of index.unreadable) report.problems.push({ sourceId: '(manifest)', key: u.key, problem: `unreadable manifest: ${u.reason}` });
      manifests.set(prefix, index);
    }
    return index;
  };
  for (const row of rows.rows) {
    const problem = (p: string) => report.problems.push({ sourceId: row.source_id, key: row.object_key, problem: p });
    report.checked++;
    if (row.bucket !== store.bucket) {
      problem(`recorded in bucket ${row.bucket}, verifying ${store.bucket}`);
      continue;
    }
    const head = await store.head(row.object_key);
    if (!head) {
      problem('object missing');
      continue;
    }
    if (head.size !== Number(row.size_bytes)) problem(`size ${head.size}, provenance says ${row.size_bytes}`);
    if (head.metadata.sha256 !== row.sha256) problem(`metadata sha256 ${head.metadata.sha256 ?? '(none)'} differs from provenance`);
    const entry = (await manifestsOf(row.provider, row.connection)).entries.get(row.object_key);
    if (!entry) problem('in no manifest');
    else if (entry.object.sha256 !== row.sha256 || entry.object.size !== Number(row.size_bytes)) problem(`manifest ${entry.manifestKey} differs from provenance`);
    const actual = await sha256OfObject(store, row.object_key);
    if (actual !== row.sha256) problem(`content sha256 ${actual} differs from provenance ${row.sha256}`);
    report.bytes += head.size;
    onChecked(report);
  }
  return report;
}
