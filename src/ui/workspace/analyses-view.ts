import { LitElement, html, type TemplateResult } from 'lit';
import type { WorkspaceApi } from '../../worker/client';
import { customElement, property } from 'lit/decorators.js';
import { Task, TaskStatus } from '@lit/task';
import * as Plot from '@observablehq/plot';
import type { AnalysesData, GroupEntry, TopToken, WorkspaceIndex } from '../../worker/workspace-protocol';
import { formatScore, TICK_FORMAT } from './model';
import type { Route } from './route';
import { viewStyles } from './shared-styles';

type Row = GroupEntry & { readonly benchmark: string };

/** A bar's sign class: helps, harms, or not resolved (its bootstrap interval spans 0). */
function verdict(row: GroupEntry): 'helps' | 'harms' | 'not resolved' {
  if (row.low !== undefined && row.high !== undefined && row.low <= 0 && row.high >= 0) return 'not resolved';
  return row.mean >= 0 ? 'helps' : 'harms';
}

/**
 * The paper's sequence- and token-level analyses: influence by segment type and by token category per benchmark, and
 * per training domain the tokens with the largest mean influence, each mean with its bootstrap interval over training
 * examples (intervals that span 0 are shown as not resolved, with n). From the run's per-token scores, or from its
 * group token scores (one summed query gradient per benchmark; docs/token-analyses.md), which every run computes.
 */
@customElement('analyses-view')
export class AnalysesView extends LitElement {
  @property({ attribute: false }) api: WorkspaceApi | undefined;
  @property({ attribute: false }) index: WorkspaceIndex | undefined;
  @property({ attribute: false }) route: Route | undefined;

  private readonly data = new Task(this, {
    task: async ([api, index]) => (api && index ? api.analyses(index.runId) : undefined),
    args: () => [this.api, this.index] as const,
  });

  static override styles = viewStyles;

  override updated(): void {
    const ready = this.data.status === TaskStatus.COMPLETE || this.data.status === TaskStatus.ERROR;
    this.toggleAttribute('data-ready', ready);
  }

  override render() {
    return this.data.render({
      pending: () => html`<p class="note">Aggregating per-token scores…</p>`,
      error: (error) => html`<p class="problem" data-error>${(error as Error).message}</p>`,
      complete: (data) => (data ? this.renderData(data) : html``),
    });
  }

  private renderData(data: AnalysesData): TemplateResult {
    const segments = data.benchmarks.flatMap((b) => b.segments.map((s) => ({ ...s, benchmark: b.benchmark })));
    const categories = data.benchmarks.flatMap((b) => b.categories.map((c) => ({ ...c, benchmark: b.benchmark })));
    const intervals = data.bootstrap
      ? html`<p class="note" data-analyses-source>Bars are means; whiskers are bootstrap 95 % intervals over training examples
          (${data.bootstrap.resamples} resamples, seed ${data.bootstrap.seed}); grey bars and "n.s." mark an interval that
          spans 0: the data do not resolve the sign (n = training examples with that segment or category).
          ${
            data.source === 'group'
              ? "Token scores: each benchmark's group scores (the mean over its queries, exact by linearity)."
              : "Token scores: the run's per-token scores."
          }</p>`
      : html``;
    return html`
      ${intervals}
      <h3>Influence by segment type</h3>
      <p class="note">Per benchmark: the influence summed within each segment of a training example's response, averaged over
        the segments of that type (does the exploration after the answer help?).</p>
      ${this.groupChart(segments, 'mean influence per segment', 'data-segment-chart')}
      ${this.groupTable(segments, 'segment', 'per segment', 'segments')}
      <h3>Influence by token category</h3>
      <p class="note">Per benchmark: mean per-token influence of the tokens of each category (connectors, numbers, code syntax, …).</p>
      ${this.groupChart(categories, 'mean influence per token', 'data-category-chart')}
      ${this.groupTable(categories, 'category', 'per token', 'categories')}
      <h3>Top tokens by mean per-token influence</h3>
      <p class="note">Per benchmark and training domain; tokens seen at least ${data.minTokenCount} times.</p>
      ${data.benchmarks.map(
        (b) => html`<h3>${b.benchmark}</h3><div class="charts">
        ${b.topTokens.map(
          (d) => html`<div data-top-tokens=${`${b.benchmark}|${d.domain}`}>
          <div class="note">training domain ${d.domain}</div>
          <div
            class="charts">${this.tokenTable('most helpful', d.helpful)}${this.tokenTable('most harmful', d.harmful)}</div>
        </div>`,
        )}
      </div>`,
      )}
    `;
  }

  private groupChart(rows: readonly Row[], label: string, marker: string): TemplateResult {
    const chart = Plot.plot({
      width: 640,
      height: 260,
      marginBottom: 50,
      marginLeft: 60,
      fx: { label: null },
      x: { label: null, tickRotate: -25 },
      y: { label, grid: true, tickFormat: TICK_FORMAT },
      color: { domain: ['helps', 'harms', 'not resolved'], range: ['#5e3c99', '#e66101', '#b9bec8'], legend: true },
      marks: [
        Plot.barY(rows, {
          fx: 'benchmark',
          x: 'label',
          y: 'mean',
          fill: (d: Row) => verdict(d),
        }),
        Plot.ruleX(
          rows.filter((d) => d.low !== undefined),
          { fx: 'benchmark', x: 'label', y1: 'low', y2: 'high', stroke: '#1f2430', strokeWidth: 1.5 },
        ),
        Plot.text(
          rows.filter((d) => verdict(d) === 'not resolved'),
          {
            fx: 'benchmark',
            x: 'label',
            y: (d: Row) => Math.max(d.high ?? d.mean, d.mean),
            text: () => 'n.s.',
            dy: -7,
            fill: '#5b6170',
          },
        ),
        Plot.ruleY([0], { stroke: '#1f2430' }),
      ],
      ariaLabel: `${label} by benchmark`,
    });
    chart.setAttribute(marker, '');
    return html`<figure>${chart}</figure>`;
  }

  private groupTable(rows: readonly Row[], what: string, per: string, marker: string): TemplateResult {
    return html`<details><summary class="note">The numbers</summary>
      <table class="plain" data-table=${marker}>
        <thead><tr><th scope="col">benchmark</th><th scope="col">${what}</th><th scope="col">mean ${per}</th><th
          scope="col">95 % interval</th><th scope="col">verdict</th><th scope="col">Σ</th>
          <th scope="col">count</th><th scope="col">examples</th></tr></thead>
        <tbody>${rows.map(
          (r) => html`<tr data-group=${`${r.benchmark}|${r.label}`} data-mean=${String(r.mean)}
            data-verdict=${verdict(r)}><td>${r.benchmark}</td>
            <td>${r.label}</td>
          <td class="num">${formatScore(r.mean)}</td><td class="num">${
            r.low !== undefined && r.high !== undefined ? `[${formatScore(r.low)}, ${formatScore(r.high)}]` : '—'
          }</td><td>${verdict(r) === 'not resolved' ? `n.s. (n = ${r.examples})` : verdict(r)}</td><td
            class="num">${formatScore(r.sum)}</td><td
            class="num">${r.count}</td><td class="num">${r.examples}</td></tr>`,
        )}</tbody>
      </table></details>`;
  }

  private tokenTable(caption: string, tokens: readonly TopToken[]): TemplateResult {
    return html`<table class="plain"><caption class="note" style="text-align:left">${caption}</caption>
      <thead><tr><th scope="col">token</th><th scope="col">mean</th><th scope="col">count</th></tr></thead>
      <tbody>${
        tokens.length === 0
          ? html`<tr><td colspan="3">none</td></tr>`
          : tokens.map(
              (t) => html`<tr>
        <td><code>${JSON.stringify(t.token)}</code></td><td class="num">${formatScore(t.mean)}</td><td
          class="num">${t.count}</td></tr>`,
            )
      }</tbody>
    </table>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'analyses-view': AnalysesView;
  }
}
