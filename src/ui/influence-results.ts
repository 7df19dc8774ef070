import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { Task } from '@lit/task';
import type { AttributionSummary, InfluenceTarget, Normalization, TopInfluences } from '../worker/protocol';
import './influence-list';

export type TopInfluenceQuery = (
  target: InfluenceTarget,
  k: number,
  normalization: Normalization,
) => Promise<TopInfluences>;

/** Pick a query or a whole benchmark; show its top helpful and harmful training examples (fetched from the worker). */
@customElement('influence-results')
export class InfluenceResults extends LitElement {
  @property({ attribute: false }) summary: AttributionSummary | undefined;
  @property({ attribute: false }) fetchTop: TopInfluenceQuery | undefined;
  @property({ type: Number }) k = 5;
  /** "benchmark:<name>" or "query:<id>". */
  @state() private selection = '';
  @state() private normalization: Normalization = 'none';

  private readonly top = new Task(this, {
    task: async ([selection, fetchTop, k, normalization]) => {
      if (!fetchTop || !selection) return undefined;
      return { selection, normalization, top: await fetchTop(parseSelection(selection), k, normalization) };
    },
    args: () => [this.effectiveSelection(), this.fetchTop, this.k, this.normalization] as const,
  });

  static override styles = css`
    :host { display: block; margin-top: 1rem; }
    .lists { display: flex; gap: 1.5rem; flex-wrap: wrap; }
    .note { color: #4a5263; font-size: 0.9rem; }
    select { max-width: 100%; }
  `;

  private effectiveSelection(): string {
    if (this.selection) return this.selection;
    const first = this.summary?.benchmarks[0];
    return first === undefined ? '' : `benchmark:${first}`;
  }

  override render() {
    const summary = this.summary;
    if (!summary) return html``;
    return html`
      <label>
        Influence on
        <select data-target @change=${(e: Event) => (this.selection = (e.target as HTMLSelectElement).value)}>
          ${summary.benchmarks.map(
            (b) =>
              html`<option value=${`benchmark:${b}`} ?selected=${this.effectiveSelection() === `benchmark:${b}`}>benchmark ${b} (mean over its queries)</option>`,
          )}
          ${summary.queries.map(
            (q) =>
              html`<option value=${`query:${q.id}`} ?selected=${this.effectiveSelection() === `query:${q.id}`}>${q.benchmark} · ${q.id}: ${truncate(q.prompt, 80)}</option>`,
          )}
        </select>
      </label>
      <label>
        Scores
        <select data-normalization @change=${(e: Event) => (this.normalization = (e.target as HTMLSelectElement).value as Normalization)}>
          <option value="none">raw influence</option>
          <option value="self-influence">÷ √self-influence</option>
          <option value="token-count">÷ token count</option>
        </select>
      </label>
      ${this.top.render({
        pending: () => html`<p class="note">Ranking…</p>`,
        error: (error) => html`<p class="note" data-error>Could not rank: ${(error as Error).message}</p>`,
        complete: (shown) =>
          shown
            ? html`<p class="note" data-score-label>Scores: ${shown.top.label}.</p>
                <div class="lists" data-shown-target=${shown.selection} data-shown-normalization=${shown.normalization}>
                <influence-list kind="helpful" heading="Most helpful training examples" .rows=${shown.top.helpful}></influence-list>
                <influence-list kind="harmful" heading="Most harmful training examples" .rows=${shown.top.harmful}></influence-list>
              </div>`
            : html``,
      })}
    `;
  }
}

function parseSelection(selection: string): InfluenceTarget {
  const colon = selection.indexOf(':');
  const kind = selection.slice(0, colon);
  const value = selection.slice(colon + 1);
  return kind === 'query' ? { query: value } : { benchmark: value };
}

function truncate(text: string, length: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}

declare global {
  interface HTMLElementTagNameMap {
    'influence-results': InfluenceResults;
  }
}
