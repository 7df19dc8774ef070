/**
 * The one cache of opened results (issue 22 §1), and its policy:
 * - a bundle opened without storing it (a `?bundle=` link, a score folder) is held until it is stored (`kept`), or
 *   the page goes: it exists nowhere else;
 * - of the stored runs, the two opened last are held, most recent last — a page can show a finished run's workspace
 *   and an opened stored run's at once, and reading a run back from IndexedDB for every request would thrash;
 * - what the views compute from a run (score views, bootstrap draws, overviews, analyses: src/app/workspace-data.ts)
 *   is cached in WeakMaps keyed by its `RunResults`, so it lives exactly as long as the run is held here.
 * A finished page run is stored before it is shown, so it is read back through here like any other stored run.
 */
import type { OpenedBundle, RunResults } from './run-results';

/** How many stored runs stay open. */
export const KEPT_OPEN = 2;

export class OpenRuns {
  private recent: { readonly runId: string; readonly results: RunResults }[] = [];
  private readonly unstored = new Map<string, OpenedBundle>();

  /** `load` reads a stored run's results (from IndexedDB in the worker). */
  constructor(private readonly load: (runId: string) => Promise<RunResults>) {}

  /** A run's results: held, or read and held (the least recently opened stored run beyond KEPT_OPEN is let go). */
  async get(runId: string): Promise<RunResults> {
    const results =
      this.recent.find((entry) => entry.runId === runId)?.results ??
      this.unstored.get(runId)?.results ??
      (await this.load(runId));
    this.recent = [...this.recent.filter((entry) => entry.runId !== runId), { runId, results }].slice(-KEPT_OPEN);
    return results;
  }

  /** Hold a bundle opened without storing it, under its run id. */
  holdUnstored(bundle: OpenedBundle): void {
    this.unstored.set(bundle.run.id, bundle);
  }

  /** The bundle held unstored under this id, if any. */
  unstoredBundle(runId: string): OpenedBundle | undefined {
    return this.unstored.get(runId);
  }

  /** The unstored bundle is stored now (under the same id): it is a stored run like the others. */
  stored(runId: string): void {
    this.unstored.delete(runId);
  }

  /** A deleted run is let go. */
  forget(runId: string): void {
    this.recent = this.recent.filter((entry) => entry.runId !== runId);
    this.unstored.delete(runId);
  }
}
