import { LitElement, css, html, type TemplateResult } from 'lit';
import type { WorkspaceApi } from '../../worker/client';
import { customElement, property } from 'lit/decorators.js';
import { Task, TaskStatus } from '@lit/task';
import '@lit-labs/virtualizer';
import type { Normalization } from '../../worker/protocol';
import type { QueryScores, WorkspaceIndex, WorkspaceQuery } from '../../worker/workspace-protocol';
import {
  distinct,
  formatScore,
  maxAbs,
  NORMALIZATION_LABELS,
  rankExamples,
  SORT_LABELS,
  type RankedRow,
  type SortKey,
} from './model';
import { navigateEvent, valueOf, type Route } from './route';
import { viewStyles } from './shared-styles';
import './query-loss';
import './span-picker';

const SHOWN_QUERIES = 200;

/**
 * Query view: pick a query, read its prompt and reference response, and rank ALL training examples by their
 * influence on it (a virtualized list), with filters, sort keys and the normalisation named in a label.
 */
@customElement('query-view')
export class QueryView extends LitElement {
  @property({ attribute: false }) api: WorkspaceApi | undefined;
  @property({ attribute: false }) index: WorkspaceIndex | undefined;
  @property({ attribute: false }) route: Route | undefined;
  private ranked: { key: string; rows: RankedRow[] } | null = null;

  private readonly scores = new Task(this, {
    task: async ([api, index, query]) => (api && index && query ? api.queryScores(index.runId, query) : undefined),
    args: () => [this.api, this.index, this.selectedQuery()?.id ?? ''] as const,
  });

  static override styles = [
    viewStyles,
    css`
    .picker { display: grid; grid-template-columns: minmax(16rem, 1fr) 2fr; gap: 1rem; }
    @media (max-width: 50rem) { .picker { grid-template-columns: 1fr; } }
    select[size] { width: 100%; }
    lit-virtualizer { height: 30rem; border: 1px solid #d8dce3; border-radius: 4px; }
    .row { display: grid; grid-template-columns: 3.5rem 8rem 17rem 1fr; gap: 0.6rem; align-items: center; width: 100%;
      text-align: left; border: none; border-bottom: 1px solid #eceef2; background: #fff; padding: 0.3rem 0.5rem;
      cursor: pointer; color: #1f2430; font-size: 0.85rem; }
    .row:hover { background: #f3f1f9; }
    .meta { color: #4a5263; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .bar { position: relative; height: 0.9rem; background: #f3f4f7; }
    .bar span { position: absolute; top: 0; bottom: 0; }
    .bar .zero { left: 50%; width: 1px; background: #4a5263; }
    .preview { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: #1f2430; }
  `,
  ];

  private selectedQuery(): WorkspaceQuery | undefined {
    const queries = this.index?.queries ?? [];
    return queries.find((q) => q.id === this.route?.query) ?? queries[0];
  }

  override updated(): void {
    const done = this.scores.status === TaskStatus.COMPLETE && this.scores.value !== undefined;
    if (done) this.setAttribute('data-ready', `${this.scores.value!.query}|${this.route!.norm}|${this.route!.sort}`);
    else this.removeAttribute('data-ready');
  }

  private go(change: Partial<Route>): void {
    this.dispatchEvent(navigateEvent(change));
  }

  override render() {
    const index = this.index;
    const route = this.route;
    if (!index || !route) return html``;
    const query = this.selectedQuery();
    const needle = route.search.toLowerCase();
    const matching = index.queries.filter(
      (q) =>
        (!route.benchmark || q.benchmark === route.benchmark) &&
        (!needle || q.id.toLowerCase().includes(needle) || q.prompt.toLowerCase().includes(needle)),
    );
    return html`
      <div class="picker">
        <div>
          <div class="controls">
            <label>Search queries (id or text)<input type="search" data-query-search .value=${route.search}
              @input=${(e: Event) => this.go({ search: valueOf(e) })} /></label>
            <label>Benchmark<select data-query-benchmark @change=${(e: Event) => this.go({ benchmark: valueOf(e) })}>
              <option value="">all</option>
              ${index.benchmarks.map((b) => html`<option value=${b} ?selected=${route.benchmark === b}>${b}</option>`)}
            </select></label>
          </div>
          <label class="note"
            for="query-list">${matching.length} queries${matching.length > SHOWN_QUERIES ? `, first ${SHOWN_QUERIES} shown` : ''}</label>
          <select id="query-list" size="8" data-query-list @change=${(e: Event) => this.go({ query: valueOf(e) })}>
            ${matching.slice(0, SHOWN_QUERIES).map(
              (q) => html`<option value=${q.id}
              ?selected=${q.id === query?.id}>${q.benchmark} · ${q.id}: ${q.prompt.slice(0, 90)}</option>`,
            )}
          </select>
        </div>
        <div>${query ? this.renderQuery(query) : html`<p class="note">No queries.</p>`}</div>
      </div>
      ${this.scores.render({
        pending: () => html`<p class="note">Ranking…</p>`,
        error: (error) => html`<p class="problem" data-error>${(error as Error).message}</p>`,
        complete: (scores) => (scores ? this.renderRanking(index, route, scores) : html``),
      })}
    `;
  }

  private renderQuery(query: WorkspaceQuery): TemplateResult {
    return html`<h3>Query <span data-query-id>${query.id}</span> (${query.benchmark})</h3>
      <div class="note">Prompt</div><pre class="text" data-query-prompt>${query.prompt}</pre>
      <div class="note">Reference response</div><pre
        class="text" data-query-response>${query.response || '(not stored)'}</pre>
      ${this.renderMeasured(query)}
      ${
        query.tokens
          ? html`<span-picker .tokens=${query.tokens} .responseStart=${responseStart(query)} run-id=${this.index!.runId}
              query-id=${query.id}></span-picker>`
          : ''
      }
      <h3>Per-token loss</h3>
      ${
        query.tokens && query.tokenLoss
          ? html`<query-loss .tokens=${query.tokens} .loss=${query.tokenLoss}></query-loss>`
          : html`<p class="note" data-loss-not-stored>Per-token loss of the response: not stored (this run or bundle was
            made before runs recorded the query's loss per token).</p>`
      }`;
  }

  /** A span measurement: which tokens the scores are about (their text, as text), and T_q. */
  private renderMeasured(query: WorkspaceQuery): TemplateResult {
    const spans = query.measured;
    if (!spans || spans.length === 0)
      return html`<p class="note" data-query-measured="response">Measured: the whole response.</p>`;
    const count = spans.reduce((sum, s) => sum + s.end - s.start, 0);
    const text = query.tokens ? spans.map((s) => query.tokens!.slice(s.start, s.end).join('')).join(' … ') : null;
    const where = spans.map((s) => (s.end - s.start === 1 ? `${s.start}` : `${s.start}–${s.end - 1}`)).join(', ');
    return html`<p class="note" data-query-measured="span">Measured: only ${count} token${count === 1 ? '' : 's'}
      (positions ${where}; T_q = ${count})${text === null ? '' : html`: <code data-measured-text>${text}</code>`}.
      The scores below are influence on these tokens alone.</p>`;
  }

  private renderRanking(index: WorkspaceIndex, route: Route, scores: QueryScores): TemplateResult {
    const views = new Map<Normalization, Float64Array>(scores.views.map((v) => [v.normalization, v.scores]));
    const shown = views.has(route.norm) ? route.norm : 'none';
    const label = scores.views.find((v) => v.normalization === shown)!.label;
    const key = JSON.stringify([
      scores.query,
      shown,
      route.sort,
      route.ascending,
      route.domain,
      route.difficulty,
      route.segment,
    ]);
    if (this.ranked?.key !== key) {
      this.ranked = { key, rows: rankExamples(index.train, views, shown, route.sort, route.ascending, route) };
    }
    const rows = this.ranked.rows;
    const scale = maxAbs(views.get(shown)!) || 1;
    const sorts = (Object.keys(SORT_LABELS) as SortKey[]).filter(
      (s) => s !== 'token-count' || views.has('token-count'),
    );
    const option = (value: string, text: string, selected: boolean) =>
      html`<option value=${value} ?selected=${selected}>${text}</option>`;
    return html`
      <h3>All ${index.train.length} training examples, ranked</h3>
      <div class="controls">
        <label>Scores shown<select data-norm @change=${(e: Event) => this.go({ norm: valueOf(e) as Normalization })}>
          ${index.normalizations.map((n) => option(n, NORMALIZATION_LABELS[n], n === shown))}</select></label>
        <label>Sort by<select data-sort @change=${(e: Event) => this.go({ sort: valueOf(e) as SortKey })}>
          ${sorts.map((s) => option(s, SORT_LABELS[s], s === route.sort))}</select></label>
        <label>Order<select data-order @change=${(e: Event) => this.go({ ascending: valueOf(e) === 'ascending' })}>
          ${option('descending', 'largest first', !route.ascending)}${option('ascending', 'smallest first', route.ascending)}</select></label>
        <label>Domain<select data-filter-domain @change=${(e: Event) => this.go({ domain: valueOf(e) })}>
          ${option('', 'all', route.domain === '')}${distinct(index.train.map((t) => t.domain)).map((d) => option(d, d, d === route.domain))}</select></label>
        <label>Difficulty<select data-filter-difficulty @change=${(e: Event) => this.go({ difficulty: valueOf(e) })}>
          ${option('', 'all', route.difficulty === '')}${distinct(index.train.map((t) => t.difficulty)).map((d) => option(d, d, d === route.difficulty))}</select></label>
        <label>Has segment<select data-filter-segment @change=${(e: Event) => this.go({ segment: valueOf(e) })}>
          ${option('', 'any', route.segment === '')}${distinct(index.train.flatMap((t) => t.segments)).map((s) => option(s, s, s === route.segment))}</select></label>
      </div>
      <p class="note" data-shown-label>Showing ${NORMALIZATION_LABELS[shown]}: ${label}. Bars: purple helps, orange harms,
        length relative to the largest |score| (${formatScore(scale)}). ${rows.length} of ${index.train.length} examples pass the filters.</p>
      <lit-virtualizer scroller data-ranking aria-label="ranked training examples" .items=${rows}
        .renderItem=${(row: RankedRow) => this.renderRow(index, row, scale, scores.query)}></lit-virtualizer>
    `;
  }

  private renderRow(index: WorkspaceIndex, row: RankedRow, scale: number, query: string): TemplateResult {
    const example = index.train[row.index]!;
    const width = (Math.abs(row.shown) / scale) * 50;
    const bar =
      row.shown >= 0
        ? `left:50%;width:${width}%;background:#5e3c99`
        : `left:${50 - width}%;width:${width}%;background:#e66101`;
    return html`<button class="row" data-row data-rank=${row.rank} data-train-id=${example.id}
      data-score=${String(row.shown)}
        aria-label=${`rank ${row.rank}: ${example.id}, score ${formatScore(row.shown)}; open its token view`}
        @click=${() => this.go({ view: 'example', example: example.id, target: `query:${query}` })}>
      <span class="num">#${row.rank}</span>
      <span class="num" title="shown score">${formatScore(row.shown)}<br /><span
        class="meta">self ${formatScore(example.selfInfluence)}</span></span>
      <span><span class="bar" aria-hidden="true" style="display:block"><span class="zero"></span><span
        style=${bar}></span></span>
        <span class="meta" style="display:block">${example.id} · ${example.domain} · ${example.difficulty}</span></span>
      <span class="preview">${example.prompt.slice(0, 160)}</span>
    </button>`;
  }
}

/**
 * The first response position of a query: where its segments start; without them, the first token whose loss is
 * measured when the whole response is (the loss is null on the prompt); else every token after the first is offered
 * (the worker refuses a span outside the response, naming the query).
 */
function responseStart(query: WorkspaceQuery): number {
  if (query.responseStart !== undefined) return query.responseStart;
  if (!query.measured && query.tokenLoss) {
    const first = query.tokenLoss.findIndex((loss) => loss !== null);
    if (first >= 0) return first;
  }
  return Math.min(1, query.tokens?.length ?? 0);
}

declare global {
  interface HTMLElementTagNameMap {
    'query-view': QueryView;
  }
}
