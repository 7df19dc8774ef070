import { LitElement, html, type TemplateResult } from 'lit';
import type { WorkspaceApi } from '../../worker/client';
import { customElement, property } from 'lit/decorators.js';
import { Task, TaskStatus } from '@lit/task';
import * as Plot from '@observablehq/plot';
import type { Normalization } from '../../worker/protocol';
import type { CrossDomainEntry, OverviewData, WorkspaceIndex } from '../../worker/workspace-protocol';
import {
  concentrationCurve,
  divergingColor,
  formatScore,
  maxAbs,
  NORMALIZATION_LABELS,
  resolved,
  textColorOn,
  TICK_FORMAT,
} from './model';
import { navigateEvent, valueOf, type Route } from './route';
import { viewStyles } from './shared-styles';
import '../evidence/group-evidence-panel';

/** The committed group-level retraining evidence of the demo (docs/experiments/groups.md), one record per --track. */
const EVIDENCE_SOURCES = [
  './experiments/groups-domain-difficulty-mlp.json',
  './experiments/groups-domain-difficulty-all.json',
];
import { css } from 'lit';

/** Overview: run settings, the cross-domain heat table, score distributions and concentration curves. */
@customElement('overview-view')
export class OverviewView extends LitElement {
  @property({ attribute: false }) api: WorkspaceApi | undefined;
  @property({ attribute: false }) index: WorkspaceIndex | undefined;
  @property({ attribute: false }) route: Route | undefined;

  private readonly data = new Task(this, {
    task: async ([api, index, norm]) => (api && index ? api.overview(index.runId, norm) : undefined),
    args: () => [this.api, this.index, this.route?.norm ?? 'none'] as const,
  });

  static override styles = [
    viewStyles,
    css`
    dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; font-size: 0.9rem;
      margin: 0; }
    dt { color: #4a5263; }
    dd { margin: 0; }
    table.heat { border-collapse: separate; border-spacing: 2px; font-size: 0.82rem; }
    table.heat th { font-weight: 600; padding: 0.2rem 0.4rem; text-align: center; }
    table.heat th[scope='row'] { text-align: right; }
    table.heat td { padding: 0.25rem 0.45rem; text-align: center; min-width: 6.5rem; border-radius: 3px; }
    table.heat td .mean { font-weight: 700; display: block; }
    table.heat td .detail { display: block; font-size: 0.75rem; }
    /* An interval spanning 0: no colour for help or harm, the mean in grey, marked n.s. */
    table.heat td.unresolved { background: #f3f4f7; color: #5b6272; outline: 1px dashed #b7bdc8; }
    table.heat td.unresolved .mean { font-weight: 400; }
    .ns { font-size: 0.72rem; font-weight: 700; letter-spacing: 0.03em; }
  `,
  ];

  override updated(): void {
    const ready = this.data.status === TaskStatus.COMPLETE && this.data.value !== undefined;
    if (ready) this.setAttribute('data-ready', this.route?.norm ?? 'none');
    else this.removeAttribute('data-ready');
  }

  override render() {
    const index = this.index;
    if (!index) return html``;
    return html`
      ${this.renderSettings(index)}
      <div class="controls">
        <label>Scores shown
          <select data-overview-norm
            @change=${(e: Event) => this.dispatchEvent(navigateEvent({ norm: valueOf(e) as Normalization }))}>
            ${index.normalizations.map(
              (n) => html`<option value=${n}
              ?selected=${this.route?.norm === n}>${NORMALIZATION_LABELS[n]}</option>`,
            )}
          </select>
        </label>
      </div>
      ${this.data.render({
        pending: () => html`<p class="note">Aggregating…</p>`,
        error: (error) => html`<p class="problem" data-error>${(error as Error).message}</p>`,
        complete: (data) => (data ? this.renderData(data) : html``),
      })}
    `;
  }

  private renderSettings(index: WorkspaceIndex): TemplateResult {
    const s = index.settings;
    const total = s.timings.reduce((sum, t) => sum + t.seconds, 0);
    return html`
      <h3>Run settings</h3>
      <dl class="settings" data-settings>
        <dt>Model</dt><dd>${s.model ?? 'not recorded'}</dd>
        <dt>Strategy</dt><dd data-setting="strategy">${s.strategy}</dd>
        <dt>Damping</dt><dd>${s.damping}</dd>
        <dt>Fisher</dt><dd>${s.fisher}</dd>
        <dt>Measurement</dt><dd>${s.measurement}</dd>
        <dt>Backend</dt><dd>${s.backend}</dd>
        <dt>Counts</dt><dd data-setting="counts">${s.queries} queries × ${s.train} training examples
          (${s.perToken ? 'with' : 'without'} per-token scores)</dd>
        <dt>Timings</dt><dd>${
          s.timings.length === 0
            ? 'not recorded'
            : html`${total.toFixed(1)} s:
          ${s.timings.map((t) => `${t.stage} ${t.seconds.toFixed(2)} s`).join(', ')}`
        }</dd>
        <dt>Peak GPU memory</dt>
          <dd>${s.peakGpuBytes === null ? 'not recorded (CPU backend or imported run)' : `${(s.peakGpuBytes / 2 ** 20).toFixed(1)} MiB`}</dd>
      </dl>
      <table class="plain" data-layers>
        <caption class="note" style="text-align:left">Tracked layers (${s.layers.length})</caption>
        <thead><tr><th scope="col">Node</th><th scope="col">Weight</th><th scope="col">d_in</th><th
          scope="col">d_out</th><th scope="col">Bias</th><th scope="col">δ</th></tr></thead>
        <tbody>${s.layers.map(
          (l) => html`<tr><td>${l.name}</td><td>${l.weightName ?? '—'}</td><td class="num">${l.dIn}</td>
          <td class="num">${l.dOut}</td><td>${l.hasBias ? 'yes' : 'no'}</td><td
            class="num">${l.damping === null ? '—' : l.damping.toExponential(3)}</td></tr>`,
        )}</tbody>
      </table>
    `;
  }

  private renderData(data: OverviewData): TemplateResult {
    return html`
      <h3>Cross-domain influence</h3>
      <p class="note" data-score-label>Rows: benchmark (mean over its queries). Columns: training domain × difficulty.
        Cell: mean influence per training example (bold), Σ over the column's examples, n, and a bootstrap 95 % interval of the
        mean (${data.bootstrap.resamples} resamples of the column's examples, seed ${data.bootstrap.seed}). Scores: ${data.label}.</p>
      ${this.renderResolution(data.cells)}
      ${this.renderHeatTable(data.cells)}
      <group-evidence-panel .sources=${EVIDENCE_SOURCES}
        .cells=${[...new Set(data.cells.map((c) => `${c.domain}/${c.difficulty}`))]}></group-evidence-panel>
      <h3>Score distribution per benchmark</h3>
      <div
        class="charts">${data.benchmarkScores.map(({ benchmark, scores }) => this.histogram(benchmark, scores))}</div>
      <h3>Concentration of positive influence</h3>
      ${this.concentration(data)}
    `;
  }

  /** How many cells the data resolves: an interval that spans 0 leaves the sign of its mean open at that n. */
  private renderResolution(cells: readonly CrossDomainEntry[]): TemplateResult {
    const open = cells.filter((c) => !resolved(c, c.trainCount));
    const counts = [...new Set(open.map((c) => c.trainCount))].sort((a, b) => a - b);
    return html`<p class="note" data-resolution=${`${cells.length - open.length}/${cells.length}`}>
      ${cells.length - open.length} of ${cells.length} cells are resolved (the interval excludes 0).
      ${
        open.length === 0
          ? ''
          : html`The other ${open.length} (grey, <span class="ns">n.s.</span>) are not resolved at their n
            (${counts.join(', ')} training examples): their sign could be either. More training examples in those
            columns narrow the intervals.`
      }</p>`;
  }

  private renderHeatTable(cells: readonly CrossDomainEntry[]): TemplateResult {
    // Cells arrive in reading order from the engine (crossDomainTable: easy → medium → hard); keep that order.
    const benchmarks = [...new Set(cells.map((c) => c.benchmark))];
    const columns = [...new Set(cells.map((c) => JSON.stringify([c.domain, c.difficulty])))].map(
      (key) => JSON.parse(key) as [string, string],
    );
    const byKey = new Map(cells.map((c) => [JSON.stringify([c.benchmark, c.domain, c.difficulty]), c]));
    const means = cells.map((c) => c.mean);
    // The scale is symmetric about 0 and reaches the largest |mean|, so every cell's value lies on the legend.
    const color = divergingColor(maxAbs(means));
    const domains = [...new Set(columns.map(([d]) => d))];
    const range = `cells range from ${formatScore(Math.min(...means))} to ${formatScore(Math.max(...means))}`;
    return html`
      <figure data-heat-legend>
        ${Plot.legend({ color: { ...color.options, label: `mean influence per training example (${range})` }, tickFormat: TICK_FORMAT, width: 420, marginLeft: 18, marginRight: 18 })}
      </figure>
      <div style="overflow-x:auto">
      <table class="heat" data-cross-domain>
        <thead>
          <tr><td></td>${domains.map(
            (d) => html`<th scope="colgroup"
            colspan=${columns.filter(([cd]) => cd === d).length}>${d}</th>`,
          )}</tr>
          <tr><th scope="col">benchmark</th>${columns.map(
            ([, difficulty]) => html`<th
            scope="col">${difficulty}</th>`,
          )}</tr>
        </thead>
        <tbody>
          ${benchmarks.map(
            (benchmark) => html`<tr>
            <th scope="row">${benchmark}</th>
            ${columns.map(([domain, difficulty]) => {
              const cell = byKey.get(JSON.stringify([benchmark, domain, difficulty]));
              if (!cell) return html`<td>—</td>`;
              const sure = resolved(cell, cell.trainCount);
              const background = color.apply(cell.mean);
              const style = sure ? `background:${background};color:${textColorOn(background)}` : '';
              const verdict = sure ? '' : `; not resolved at n = ${cell.trainCount} (interval spans 0)`;
              return html`<td data-cell data-benchmark=${benchmark} data-domain=${domain} data-difficulty=${difficulty}
                  data-mean=${String(cell.mean)} data-sum=${String(cell.sum)} data-count=${cell.trainCount}
                  data-low=${String(cell.low)} data-high=${String(cell.high)} data-resolved=${String(sure)}
                  class=${sure ? '' : 'unresolved'} style=${style}
                  title=${`${benchmark} ← ${domain} / ${difficulty}: mean ${cell.mean}, sum ${cell.sum}, ${cell.trainCount} examples × ${cell.queryCount} queries${verdict}`}>
                <span class="mean num">${formatScore(cell.mean)}${sure ? '' : html` <span class="ns" data-ns>n.s.</span>`}</span>
                <span class="detail num">Σ ${formatScore(cell.sum)} · n ${cell.trainCount}</span>
                <span class="detail num">[${formatScore(cell.low)}, ${formatScore(cell.high)}]</span>
              </td>`;
            })}
          </tr>`,
          )}
        </tbody>
      </table>
      </div>
    `;
  }

  private histogram(benchmark: string, scores: Float64Array): TemplateResult {
    const values = Array.from(scores);
    return html`<figure data-histogram=${benchmark}>
      ${Plot.plot({
        width: 340,
        height: 200,
        marginLeft: 50,
        x: { label: '← harms · influence · helps →', labelAnchor: 'center', tickFormat: TICK_FORMAT, ticks: 4 },
        y: {
          label: 'training examples',
          grid: true,
          tickFormat: (v: number) => (Number.isInteger(v) ? String(v) : ''),
        },
        color: { domain: ['helps (> 0)', 'harms (< 0)'], range: ['#5e3c99', '#e66101'], legend: true },
        marks: [
          Plot.rectY(
            values,
            Plot.binX<Plot.RectYOptions>(
              { y: 'count' },
              { x: (d: number) => d, fill: (d: number) => (d >= 0 ? 'helps (> 0)' : 'harms (< 0)'), thresholds: 40 },
            ),
          ),
          Plot.ruleX([0], { stroke: '#1f2430' }),
          Plot.ruleY([0]),
        ],
        ariaLabel: `histogram of ${benchmark}'s influence on each training example`,
      })}
      <figcaption>${benchmark}: influence on each of ${values.length} training examples</figcaption>
    </figure>`;
  }

  private concentration(data: OverviewData): TemplateResult {
    const points = data.benchmarkScores.flatMap(({ benchmark, scores }) =>
      concentrationCurve(scores).map((p) => ({ ...p, benchmark })),
    );
    return html`<figure data-concentration>
      ${Plot.plot({
        width: 520,
        height: 260,
        marginLeft: 50,
        x: { label: 'top k % of training examples (by influence)', domain: [0, 100] },
        y: { label: 'share of total positive influence', domain: [0, 1], grid: true, tickFormat: '.0%' },
        color: { legend: true, scheme: 'observable10' },
        marks: [
          Plot.lineY(points, { x: 'percent', y: 'share', stroke: 'benchmark', strokeWidth: 2 }),
          Plot.line(
            [
              [0, 0],
              [100, 1],
            ],
            { stroke: '#8a909c', strokeDasharray: '4 3' },
          ),
        ],
        ariaLabel:
          'concentration curves: share of total positive influence carried by the top k % of training examples',
      })}
      <figcaption>Dashed: influence spread evenly. A curve that rises steeply means a few examples carry most of the help.</figcaption>
    </figure>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'overview-view': OverviewView;
  }
}
