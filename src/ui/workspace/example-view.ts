import { LitElement, css, html, type TemplateResult } from 'lit';
import type { WorkspaceApi } from '../../worker/client';
import { customElement, property, state } from 'lit/decorators.js';
import { Task, TaskStatus } from '@lit/task';
import * as Plot from '@observablehq/plot';
import type { ExampleDetail, WorkspaceIndex } from '../../worker/workspace-protocol';
import { divergingColor, formatScore, maxAbs, TICK_FORMAT } from './model';
import {
  cursorStep,
  describeToken,
  divergingPalette,
  moveCursorClass,
  shadedTokens,
  titleOnHover,
  appendRemaining,
  FIRST_TOKENS,
  type ShadedTokens,
} from './token-shading';
import { navigateEvent, valueOf, parseTarget, type Route } from './route';
import { viewStyles } from './shared-styles';

const SHOWN_EXAMPLES = 200;

/**
 * Training-example view: the example's tokens coloured by their influence on a query or a benchmark, its segments
 * with their sums, its per-layer contributions and its self-influence. Token text is data: bound as text only.
 */
@customElement('example-view')
export class ExampleView extends LitElement {
  @property({ attribute: false }) api: WorkspaceApi | undefined;
  @property({ attribute: false }) index: WorkspaceIndex | undefined;
  @property({ attribute: false }) route: Route | undefined;
  /** The token the keyboard cursor is on (arrow keys in the heatmap). */
  @state() private cursor = -1;
  private readonly charts = new WeakMap<ExampleDetail, Map<string, Element>>();
  /** The heatmap's spans, built once per example detail (token-shading.ts). */
  private shaded: {
    detail: ExampleDetail;
    shading: ShadedTokens;
    spans: DocumentFragment;
    /** The tokens after the first screen are still to be appended (appendRemaining). */
    pending: boolean;
  } | null = null;

  private readonly detail = new Task(this, {
    task: async ([api, index, example, target]) => {
      const parsed = parseTarget(target);
      return api && index && example && parsed ? api.example(index.runId, example, parsed) : undefined;
    },
    args: () => [this.api, this.index, this.exampleId(), this.target()] as const,
  });

  static override styles = [
    viewStyles,
    css`
    .heatmap { white-space: pre-wrap; word-break: break-word;
      font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
      font-size: 0.85rem; line-height: 1.55; border: 1px solid #d8dce3; padding: 0.5rem; max-height: 32rem;
        overflow: auto; }
    .heatmap span { border-radius: 2px; }
    .heatmap span.cursor { outline: 2px solid #1d4ed8; }
    /* The spans are built outside Lit's templates but inside this shadow root, so these rules reach them. */
    .heatmap span.boundary { border-left: 3px solid #1f2430; margin-left: 3px; padding-left: 1px; }
    .facts { display: flex; gap: 2rem; flex-wrap: wrap; font-size: 0.95rem; }
  `,
  ];

  private exampleId(): string {
    return this.route?.example || this.index?.train[0]?.id || '';
  }

  private target(): string {
    return (
      this.route?.target || (this.index?.benchmarks[0] !== undefined ? `benchmark:${this.index.benchmarks[0]}` : '')
    );
  }

  override updated(): void {
    const shaded = this.shaded;
    const heatmap = this.renderRoot.querySelector<HTMLElement>('[data-heatmap]');
    if (shaded?.pending && heatmap) {
      shaded.pending = false;
      // Lit keeps the same element from one example to the next.
      heatmap.removeAttribute('data-complete');
      if (shaded.shading.tokens.length <= FIRST_TOKENS) heatmap.setAttribute('data-complete', '');
      else appendRemaining(heatmap, shaded.shading, () => this.shaded === shaded);
    }
    const done = this.detail.status === TaskStatus.COMPLETE && this.detail.value !== undefined;
    if (done) this.setAttribute('data-ready', `${this.detail.value!.trainId}|${this.target()}`);
    else this.removeAttribute('data-ready');
  }

  private go(change: Partial<Route>): void {
    this.cursor = -1;
    this.dispatchEvent(navigateEvent(change));
  }

  override render() {
    const index = this.index;
    const route = this.route;
    if (!index || !route) return html``;
    const current = this.exampleId();
    const target = this.target();
    const needle = route.find.toLowerCase();
    const matching = index.train.filter(
      (t) =>
        t.id === current || !needle || t.id.toLowerCase().includes(needle) || t.prompt.toLowerCase().includes(needle),
    );
    const inQuery = target.startsWith('query:') ? target.slice(6) : route.query;
    return html`
      <div class="controls">
        <label>Find a training example (id or text)<input type="search" data-example-search .value=${route.find}
          @input=${(e: Event) => this.go({ find: valueOf(e) })} /></label>
        <label>Training example<select data-example-select @change=${(e: Event) => this.go({ example: valueOf(e) })}>
          ${matching.slice(0, SHOWN_EXAMPLES).map(
            (t) => html`<option value=${t.id}
            ?selected=${t.id === current}>${t.id} · ${t.domain} · ${t.difficulty}</option>`,
          )}
        </select></label>
        <label>Influence on<select data-example-target @change=${(e: Event) => this.go({ target: valueOf(e) })}>
          ${index.benchmarks.map(
            (b) => html`<option value=${`benchmark:${b}`}
            ?selected=${target === `benchmark:${b}`}>benchmark ${b} (mean over its queries)</option>`,
          )}
          ${
            inQuery
              ? html`<option value=${`query:${inQuery}`}
            ?selected=${target === `query:${inQuery}`}>query ${inQuery}</option>`
              : html``
          }
        </select></label>
      </div>
      ${this.detail.render({
        pending: () => html`<p class="note">Loading the example…</p>`,
        error: (error) => html`<p class="problem" data-error>${(error as Error).message}</p>`,
        complete: (detail) => (detail ? this.renderDetail(index, detail) : html``),
      })}
    `;
  }

  private renderDetail(index: WorkspaceIndex, detail: ExampleDetail): TemplateResult {
    const example = index.train.find((t) => t.id === detail.trainId)!;
    const on =
      'query' in detail.target
        ? `query ${detail.target.query}`
        : `benchmark ${detail.target.benchmark} (mean over its queries)`;
    return html`
      <h3>Training example <span data-example-id>${detail.trainId}</span> · ${example.domain} · ${example.difficulty}</h3>
      <div class="facts">
        <div>Influence on ${on}: <strong
          class="num" data-example-influence>${formatScore(detail.influence)}</strong></div>
        <div>Self-influence τ(n, n): <strong
          class="num" data-self-influence>${formatScore(detail.selfInfluence)}</strong></div>
        <div>Tokens: <span class="num">${detail.tokens.length}</span></div>
      </div>
      ${
        detail.tokenValues
          ? this.renderHeatmap(detail, detail.tokenValues)
          : html`
        <p class="note" data-no-tokens>${
          'query' in detail.target
            ? 'This run kept per-token scores for a single query only for its top training examples (by |influence|, ' +
              'when it kept any): choose a benchmark under "Influence on" for its token influence (every run keeps ' +
              'those), or run with per-token scores on.'
            : 'This run kept no token scores (it was computed before they were kept, or with them off).'
        }</p>
        <div class="note">Prompt</div><pre class="text">${example.prompt}</pre>
        <div class="note">Response</div><pre class="text">${example.response}</pre>`
      }
      ${this.renderSegments(detail)}
      ${this.renderLayers(detail)}
    `;
  }

  private renderHeatmap(detail: ExampleDetail, values: Float64Array): TemplateResult {
    const describe = (t: number) => describeToken(detail.tokens, values, t);
    if (this.shaded?.detail !== detail) {
      const palette = divergingPalette(maxAbs(values));
      const boundaries = new Set(detail.segments.map((s) => s.start));
      const shading = { tokens: detail.tokens, values, palette, boundaries, describe };
      this.shaded = { detail, shading, spans: shadedTokens(shading, 0, FIRST_TOKENS), pending: true };
    }
    const color = divergingColor(maxAbs(values));
    const cursor = this.cursor;
    return html`
      <h3>Per-token influence</h3>
      <p class="note" data-token-source>${
        detail.tokenSource === 'group'
          ? `The benchmark's token scores: the mean over its queries of each token's influence, computed from one summed
            query gradient (exact).`
          : detail.tokenSource === 'pair'
            ? "This query's token scores on this training example, kept at run time (one of the query's top " +
              'training examples by |influence|).'
            : ''
      }</p>
      <p class="note">Each token's colour is the influence credited to producing it (the score at position t belongs to the
        token t + 1 it predicts). Hover a token for its value, or focus the text and use the arrow keys. A dark bar on a
        token's left marks the start of a segment.</p>
      <figure>${this.chart(detail, 'legend', () =>
        Plot.legend({
          color: { ...color.options, label: 'influence per token (purple helps, orange harms)' },
          tickFormat: TICK_FORMAT,
          width: 400,
          marginLeft: 18,
          marginRight: 18,
        }),
      )}</figure>
      <div class="heatmap" data-heatmap tabindex="0" role="group"
        aria-label="token heatmap; arrow keys move between tokens"
        @mouseover=${(e: Event) => titleOnHover(e, describe)}
        @keydown=${(e: KeyboardEvent) => this.moveCursor(e, values.length)}>${this.shaded.spans}</div>
      <p class="note num" aria-live="polite" data-cursor>${cursor >= 0 ? describe(cursor) : ''}</p>
    `;
  }

  /** A chart of the example shown, built once per detail: a keypress re-renders the view, not its charts. */
  private chart(detail: ExampleDetail, key: string, build: () => Element): Element {
    let charts = this.charts.get(detail);
    if (!charts) this.charts.set(detail, (charts = new Map()));
    let chart = charts.get(key);
    if (!chart) charts.set(key, (chart = build()));
    return chart;
  }

  private moveCursor(event: KeyboardEvent, length: number): void {
    const next = cursorStep(event.key, this.cursor, length);
    if (next === null) return;
    event.preventDefault();
    const heatmap = this.renderRoot.querySelector('[data-heatmap]');
    if (!heatmap) return;
    moveCursorClass(heatmap, this.cursor, next)?.scrollIntoView({ block: 'nearest' });
    this.cursor = next;
  }

  private renderSegments(detail: ExampleDetail): TemplateResult {
    if (detail.segments.length === 0) return html`<p class="note">This example has no segments.</p>`;
    return html`<h3>Segments</h3>
      <table class="plain" data-segments>
        <thead><tr><th scope="col">Segment</th><th scope="col">Tokens</th><th scope="col">Σ influence</th></tr></thead>
        <tbody>${detail.segments.map(
          (s) => html`<tr data-segment=${s.label}><td>${s.label}</td><td class="num">${s.start}–${s.end - 1}</td>
          <td class="num" data-sum=${String(s.sum)}>${detail.tokenValues ? formatScore(s.sum) : '—'}</td></tr>`,
        )}</tbody>
      </table>`;
  }

  private renderLayers(detail: ExampleDetail): TemplateResult {
    if (detail.layers.length === 0) return html`<p class="note">This run kept no per-layer scores.</p>`;
    return html`<h3>Per-layer contributions</h3>
      <figure data-layers-chart>
        ${this.chart(detail, 'layers', () =>
          Plot.plot({
            width: 560,
            height: 40 + 26 * detail.layers.length,
            marginLeft: 170,
            x: { label: 'influence', grid: true, tickFormat: TICK_FORMAT, ticks: 5 },
            y: { label: null, domain: detail.layers.map((l) => l.name) },
            marks: [
              Plot.barX(detail.layers, {
                x: 'value',
                y: 'name',
                fill: (d: { value: number }) => (d.value >= 0 ? '#5e3c99' : '#e66101'),
              }),
              Plot.ruleX([0], { stroke: '#1f2430' }),
            ],
            ariaLabel: 'influence of this example contributed by each tracked layer',
          }),
        )}
        <figcaption>Bars sum to the influence above (purple helps, orange harms).</figcaption>
      </figure>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'example-view': ExampleView;
  }
}
