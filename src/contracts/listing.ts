/** A listing page as the export workflow asks for it and receives it (activities/list.ts). */
import type { SourceItem } from './sourceItem';
import type { Window } from './window';

export interface ListPageInput {
  connection: string;
  window: Window;
  cursor: string | null;
  /** The export's first run id: rows it wrote mark files it has already counted. */
  exportRun: string;
}

export interface ListPageResult {
  /** Files not stored yet, each once. */
  items: SourceItem[];
  /** Files on this page that an earlier export stored: counted as skipped, never fetched. */
  alreadyStored: string[];
  nextCursor: string | null;
}
