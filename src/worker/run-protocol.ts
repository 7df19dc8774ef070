/** Stored runs as the page sees them (structured-clone safe), beside protocol.ts's live-run messages. */
import type { RunStatus } from '../store/records';
import type { AttributionSummary } from './protocol';

export interface RunListing {
  readonly id: string;
  readonly name: string;
  readonly status: RunStatus;
  /** The stage running or last finished. */
  readonly stage: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly backend: string | null;
  readonly strategy: string;
  /** Why it failed or paused, as the engine said it. */
  readonly error: string | null;
  /** Imported from a bundle (read-only) rather than computed here. */
  readonly imported: boolean;
  /** Left running by a reload or crash, or paused: it can carry on from its last checkpoint. */
  readonly resumable: boolean;
  /** Has results to show (complete or imported). */
  readonly viewable: boolean;
}

/** What an import or an opened stored run gives the page: the results view's summary, ranked on request by run id. */
export interface StoredRunView {
  readonly runId: string;
  readonly name: string;
  readonly summary: AttributionSummary;
  /** Imported from a bundle (or viewed from one), rather than computed in this browser. */
  readonly imported?: boolean;
  /** importBundle only: the same bundle (by sha256) was stored before; this is that stored run, not a new copy. */
  readonly alreadyStored?: boolean;
}
