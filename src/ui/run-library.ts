import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { InfluenceTarget, Normalization, TopInfluences } from '../worker/protocol';
import type { RunListing, StoredRunView } from '../worker/run-protocol';
import type { StoredRunsApi, WorkspaceApi } from '../worker/client';
import { fetchBundle } from './workspace/bundle-url';
import { workspaceAddress } from './workspace/route';
import { portableFileName } from './file-name';
import './influence-results';
import './workspace/results-workspace';

/**
 * Stored runs: list (name, status, date, backend, strategy), rename, delete, export as .iwb, resume an interrupted
 * run (fires `resume-run`, detail: run id), open a finished one; import a bundle by file picker or drag-and-drop
 * into a read-only results view. Everything from a run or a bundle (names, text, errors) is bound as text.
 */
@customElement('run-library')
export class RunLibrary extends LitElement {
  @property({ attribute: false }) api: StoredRunsApi | undefined;
  @property({ attribute: false }) workspace: WorkspaceApi | undefined;
  /** Bump to reload the list (after a run ends). */
  @property({ type: Number }) generation = 0;
  /** While a run computes, resuming another is not offered. */
  @property({ type: Boolean }) busy = false;
  @state() private runs: readonly RunListing[] = [];
  @state() private problem = '';
  @state() private editing: string | null = null;
  @state() private viewed: StoredRunView | null = null;
  /** The viewed run's workspace address (route.ts): a ?bundle= link's is bundle=<digest>, others run=<id>. */
  @state() private viewedAddress = '';
  /** The viewed run came from a ?bundle= link and is not stored in this browser (until "Keep a copy"). */
  @state() private unstored = false;
  @state() private dragging = false;
  /** The last import was a bundle stored before: its stored copy was opened instead of storing a second one. */
  @state() private alreadyStored = false;

  static override styles = css`
    :host { display: block; margin: 1.5rem 0; }
    h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
    table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
    th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #e3e6eb; }
    .drop { border: 2px dashed #b7bdc8; border-radius: 6px; padding: 0.8rem; margin: 0.6rem 0; }
    .drop.dragging { border-color: #1b6e3a; background: #eef7f1; }
    .score-folder { margin: 0.6rem 0; }
    .score-folder label { display: block; margin: 0.3rem 0 0.3rem 1rem; }
    .score-folder button { margin-left: 1rem; }
    .problem { color: #a4161a; white-space: pre-wrap; }
    .offer { background: #fff6dd; padding: 0.4rem 0.6rem; border-radius: 4px; }
    .view { border-top: 1px solid #d8dce3; margin-top: 1rem; padding-top: 0.5rem; }
  `;

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('api') || changed.has('generation')) void this.reload();
    if (changed.has('api') && this.api && changed.get('api') === undefined) void this.openLinked();
  }

  /**
   * ?bundle=<url> opens a linked bundle read-only without storing it (the stored copy if "Keep a copy" made one
   * earlier); ?run=<id> opens a stored run, and so does the address a finished run leaves in the hash (#run=<id>),
   * so reloading the page, or opening its address in a new tab, shows the run again.
   */
  private async openLinked(): Promise<void> {
    const params = new URLSearchParams(location.search);
    const url = params.get('bundle');
    const runId = params.get('run') ?? new URLSearchParams(location.hash.replace(/^#/, '')).get('run');
    if (url !== null) {
      await this.act(async () => {
        const fetched = await fetchBundle(url);
        const known = (await this.api!.listRuns()).find((run) => run.imported && run.name === fetched.name);
        try {
          this.viewed = known
            ? await this.api!.openRun(known.id)
            : await this.api!.viewBundle(fetched.bytes, fetched.name);
          this.viewedAddress = workspaceAddress('bundle', fetched.digest);
          this.unstored = !known;
        } catch (error) {
          throw new Error(`${url} is not a bundle this workbench can open: ${(error as Error).message}`, {
            cause: error,
          });
        }
      });
    } else if (runId !== null) {
      await this.open(runId);
    }
  }

  private keep(): Promise<void> {
    return this.act(async () => {
      await this.api!.keepBundle(this.viewed!.runId);
      this.unstored = false;
    });
  }

  private async reload(): Promise<void> {
    if (!this.api) return;
    try {
      this.runs = await this.api.listRuns();
    } catch (error) {
      this.problem = (error as Error).message;
    }
  }

  private async act(action: () => Promise<void>): Promise<void> {
    this.problem = '';
    try {
      await action();
    } catch (error) {
      this.problem = (error as Error).message;
    }
    await this.reload();
  }

  private rename(run: RunListing, form: HTMLFormElement): Promise<void> {
    const name = (form.elements.namedItem('name') as HTMLInputElement).value;
    return this.act(async () => {
      await this.api!.renameRun(run.id, name);
      this.editing = null;
    });
  }

  private deleteAfterConfirm(run: RunListing): Promise<void> {
    if (!confirm(`Delete the run "${run.name}" and everything stored with it?`)) return Promise.resolve();
    return this.act(async () => {
      await this.api!.deleteRun(run.id);
      if (this.viewed?.runId === run.id) this.viewed = null;
    });
  }

  private download(run: RunListing): Promise<void> {
    return this.act(async () => {
      const bytes = await this.api!.exportRun(run.id);
      const url = URL.createObjectURL(
        new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }),
      );
      const link = document.createElement('a');
      link.href = url;
      link.download = portableFileName(run.name, '.iwb');
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });
  }

  private open(runId: string): Promise<void> {
    return this.act(async () => {
      this.alreadyStored = false;
      const known = (await this.api!.listRuns()).find((run) => run.id === runId);
      if (!known) throw new Error(`The run in this address (${runId}) is not stored in this browser.`);
      if (!known.viewable) {
        throw new Error(`The run in this address (“${known.name}”) has no results yet (${known.status}).`);
      }
      this.viewed = await this.api!.openRun(runId);
      this.viewedAddress = workspaceAddress('run', runId);
      this.unstored = false;
    });
  }

  private importFile(file: File | undefined): Promise<void> {
    if (!file) return Promise.resolve();
    return this.act(async () => {
      this.viewed = null;
      this.alreadyStored = false;
      this.viewed = await this.api!.importBundle(
        new Uint8Array(await file.arrayBuffer()),
        file.name.replace(/\.iwb$/i, ''),
      );
      this.alreadyStored = this.viewed.alreadyStored === true;
      this.viewedAddress = workspaceAddress('run', this.viewed.runId);
      this.unstored = false;
    });
  }

  /** A kronfluence scores folder with its JSONL, read in the worker and opened read-only (app/score-folder.ts). */
  private openScoreFolder(): Promise<void> {
    const picked = (selector: string) => [...(this.renderRoot.querySelector<HTMLInputElement>(selector)?.files ?? [])];
    const [folder, train, queries] = ['[data-score-dir]', '[data-score-train]', '[data-score-queries]'].map(picked);
    return this.act(async () => {
      if (!folder!.length || !train![0] || !queries![0])
        throw new Error('Pick the scores folder, the training data and the queries it scored.');
      this.viewed = null;
      this.alreadyStored = false;
      this.viewed = await this.api!.viewScoreFolder(folder!, train![0], queries![0]);
      this.viewedAddress = workspaceAddress('run', this.viewed.runId);
      this.unstored = false;
    });
  }

  private readonly onDrop = (event: DragEvent): void => {
    event.preventDefault();
    this.dragging = false;
    void this.importFile(event.dataTransfer?.files[0]);
  };

  override render() {
    const interrupted = this.runs.filter((run) => run.resumable && run.status !== 'paused');
    return html`
      <h2>Stored runs</h2>
      ${
        interrupted.length > 0 && !this.busy
          ? html`<p class="offer" data-resume-offer>
            ${interrupted.length === 1 ? 'A run was interrupted' : `${interrupted.length} runs were interrupted`} (page reload, crash or lost GPU).
            It can carry on from its last checkpoint: press Resume.
          </p>`
          : html``
      }
      ${
        this.runs.length === 0
          ? html`<p data-no-runs>No stored runs yet.</p>`
          : html`<table>
            <thead><tr><th>Name</th><th>Status</th><th>Date</th><th>Backend</th><th>Strategy</th><th></th></tr></thead>
            <tbody>${this.runs.map((run) => this.renderRun(run))}</tbody>
          </table>`
      }
      <div
        class="drop ${this.dragging ? 'dragging' : ''}"
        data-drop
        @dragover=${(e: DragEvent) => {
          e.preventDefault();
          this.dragging = true;
        }}
        @dragleave=${() => (this.dragging = false)}
        @drop=${this.onDrop}
      >
        <label>Open an influence bundle (.iwb), or drop one here:
          <input type="file" accept=".iwb,.safetensors" data-import @change=${(e: Event) => void this.importFile((e.target as HTMLInputElement).files?.[0])} />
        </label>
      </div>
      <details class="score-folder" data-score-folder>
        <summary>Open scores computed elsewhere (a kronfluence <code>scores_&lt;name&gt;</code> folder)</summary>
        <label>Scores folder <input type="file" webkitdirectory data-score-dir /></label>
        <label>Training data it scored (.jsonl, same order) <input type="file" accept=".jsonl,.json" data-score-train /></label>
        <label>Queries (.jsonl, same order) <input type="file" accept=".jsonl,.json" data-score-queries /></label>
        <button data-action="open-scores" @click=${() => void this.openScoreFolder()}>Open</button>
      </details>
      ${this.problem ? html`<p class="problem" data-library-error>${this.problem}</p>` : html``}
      ${
        this.viewed
          ? html`<section class="view" data-viewed-run=${this.viewed.runId}>
            <h2>Results of “${this.viewed.name}” (read-only)</h2>
            ${
              this.alreadyStored
                ? html`<p class="offer" data-already-stored>This bundle is already stored here as
                  “${this.viewed.name}”: that copy is open, and no second one was stored.</p>`
                : html``
            }
            ${
              this.unstored
                ? html`<p class="offer" data-not-stored>Opened from the link without storing it in this browser: it is
                  gone when this page closes.
                  <button data-action="keep" @click=${() => void this.keep()}>Keep a copy</button></p>`
                : html``
            }
            <p>${this.viewed.summary.queries.length} queries × ${this.viewed.summary.trainCount} training examples, strategy ${this.viewed.summary.strategy}, computed on ${this.viewed.summary.backend.description}.</p>
            ${
              // A run computed here: the workspace below has its top lists (Query view); an imported bundle keeps
              // the short lists too, as its first look.
              this.viewed.imported === false
                ? html``
                : html`<influence-results .summary=${this.viewed.summary} .fetchTop=${this.fetchViewed}></influence-results>`
            }
            <results-workspace .api=${this.workspace} run-id=${this.viewed.runId}
              address=${this.viewedAddress}></results-workspace>
          </section>`
          : html``
      }
    `;
  }

  private readonly fetchViewed = (
    target: InfluenceTarget,
    k: number,
    normalization: Normalization,
  ): Promise<TopInfluences> => {
    const viewed = this.viewed;
    if (!viewed || !this.api) return Promise.reject(new Error('no stored run is open'));
    return this.api.rank(viewed.runId, target, k, normalization);
  };

  private renderRun(run: RunListing) {
    const date = new Date(run.createdAt).toLocaleString();
    return html`<tr data-run-id=${run.id} data-status=${run.status}>
      <td>
        ${
          this.editing === run.id
            ? html`<form @submit=${(e: SubmitEvent) => {
                e.preventDefault();
                void this.rename(run, e.target as HTMLFormElement);
              }}><input name="name" data-rename-input .value=${run.name} /><button type="submit" data-action="save-name">Save</button></form>`
            : html`<span data-run-name>${run.name}</span>`
        }
      </td>
      <td><span data-run-status title=${statusTitle(run)}>${statusText(run)}</span>${run.error ? html`<br /><small>${run.error}</small>` : html``}</td>
      <td>${date}</td>
      <td>${run.backend ?? '—'}</td>
      <td>${run.strategy}</td>
      <td>
        ${run.viewable ? html`<button data-action="open" @click=${() => void this.open(run.id)}>Open</button>` : html``}
        ${run.resumable && !this.busy ? html`<button data-action="resume" @click=${() => this.dispatchEvent(new CustomEvent('resume-run', { detail: run.id, bubbles: true, composed: true }))}>Resume</button>` : html``}
        ${run.viewable ? html`<button data-action="export" @click=${() => void this.download(run)}>Export .iwb</button>` : html``}
        <button data-action="rename" @click=${() => (this.editing = run.id)}>Rename</button>
        <button data-action="delete" ?disabled=${this.busy && !run.viewable && !run.resumable} @click=${() => void this.deleteAfterConfirm(run)}>Delete</button>
      </td>
    </tr>`;
  }
}

/** A run's status in words: an imported run is a read-only copy of a bundle (its last stage says nothing more). */
function statusText(run: RunListing): string {
  if (run.status === 'imported') return 'imported (read-only bundle)';
  return `${run.status}${run.stage && run.status !== 'complete' ? ` (${run.stage})` : ''}`;
}

function statusTitle(run: RunListing): string {
  if (run.status === 'imported')
    return 'Opened from an .iwb bundle: its results can be viewed and exported, not resumed.';
  if (run.stage && run.status !== 'complete') return `The engine stage it reached: ${run.stage}.`;
  return '';
}

declare global {
  interface HTMLElementTagNameMap {
    'run-library': RunLibrary;
  }
}
