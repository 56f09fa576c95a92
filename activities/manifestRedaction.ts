import { text } from 'node:stream/consumers';
import type { ObjectVersionRef } from '../src/contracts/erasure';
import { DAY } from '../src/contracts/units';
import type { SelectedFile } from '../src/provenance/compliance';
import { manifestFolder } from '../src/storage/keys';
import type { ObjectStore } from '../src/storage/objectStore';
import type { ObjectVersions } from '../src/storage/versions';

/**
 * An erased file's entry in the group manifest that describes it (source id, conversation,
 * original name, URL without query): the manifest is rewritten without it and its older versions
 * are deleted, so the bucket forgets the file as provenance does. The other files' entries stay.
 */

/** A manifest naming the erased object: its key, parsed body, and the versions the rewrite replaces. */
export interface ManifestToRedact {
  key: string;
  doc: { files: Array<{ object?: { key?: unknown } }> } & Record<string, unknown>;
  versions: ObjectVersionRef[];
}

export class ManifestRedactor {
  constructor(
    private readonly store: Pick<ObjectStore, 'listKeys' | 'readStream' | 'putJson'>,
    private readonly versions: ObjectVersions,
    private readonly keyPrefix: string,
  ) {}

  /**
   * The manifests of the export run that stored the file whose entries name its object. They are
   * written when the file's group is, so on the day it finished or (past midnight) the next.
   */
  async find(connection: string, file: SelectedFile): Promise<ManifestToRedact[]> {
    if (!file.objectKey) return [];
    const out: ManifestToRedact[] = [];
    for (const at of [file.finishedAt.getTime(), file.finishedAt.getTime() + DAY]) {
      const folder = manifestFolder({
        prefix: this.keyPrefix,
        provider: file.provider,
        connection,
        writtenAt: new Date(at).toISOString(),
        workflowId: file.workflowId,
      });
      // Named `{runId}-{activityId}-{attempt}-{seq}`: a safe run id is the start of its manifests' names.
      const prefix = /^[A-Za-z0-9._-]+$/.test(file.runId) ? `${folder}${file.runId}-` : folder;
      for await (const key of this.store.listKeys(prefix)) {
        const doc = await this.read(key);
        if (doc?.files.some((f) => f.object?.key === file.objectKey))
          out.push({ key, doc, versions: await this.versions.versionsOf(key, { markers: false }) });
      }
    }
    return out;
  }

  /** Writes the manifest without the object's entries, then deletes the versions it replaced; returns those. */
  async redact(manifest: ManifestToRedact, objectKey: string): Promise<ObjectVersionRef[]> {
    const written = await this.store.putJson(manifest.key, {
      ...manifest.doc,
      files: manifest.doc.files.filter((f) => f.object?.key !== objectKey),
    });
    // Unversioned, the PUT replaced the one 'null' version: deleting it would delete the rewrite.
    const replaced = written.versionId === null ? manifest.versions.filter((v) => v.versionId !== 'null') : manifest.versions;
    for (const ref of replaced) await this.versions.deleteVersion(ref);
    return replaced;
  }

  private async read(key: string): Promise<ManifestToRedact['doc'] | null> {
    try {
      const doc: unknown = JSON.parse(await text(await this.store.readStream(key)));
      return typeof doc === 'object' && doc !== null && Array.isArray((doc as { files?: unknown }).files)
        ? (doc as ManifestToRedact['doc'])
        : null;
    } catch {
      return null; // verify reports an unreadable manifest; it names no file to redact
    }
  }
}
