import { LitElement, css, html, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import * as Plot from '@observablehq/plot';
import { formatValue, readReweighting, type ArmRow, type ReweightingReport } from './reweighting-data';

const RESULT_URL = './experiments/reweighting.json';
const ARM_COLOURS: Record<string, string> = {
  original: '#5b6472',
  flipped: '#1f77b4',
  random: '#d68a1a',
  'top-subset': '#2a9d5c',
};

/**
 * The reweighting experiment's result (issue 14 §3), read-only: the rule and the weights it chose, every arm's
 * held-out log-likelihood per benchmark with its interval over seeds, and each arm against the original mixture.
 * Everything shown comes from public/experiments/reweighting.json; text from the file is rendered as text.
 */
@customElement('reweighting-view')
export class ReweightingView extends LitElement {
  @state() private report: ReweightingReport | null = null;
  @state() private problem: string | null = null;

  static override styles = css`
    :host { display: block; max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
    h1 { font-size: 1.5rem; margin: 0.5rem 0; }
    h1 a { font-size: 0.9rem; font-weight: normal; margin-left: 1rem; }
    h2 { font-size: 1.1rem; margin: 1.6rem 0 0.5rem; }
    p, li { line-height: 1.45; }
    .note { color: #4a5263; font-size: 0.9rem; }
    .problem { color: #a4262c; font-weight: 600; }
    table { border-collapse: collapse; font-size: 0.88rem; margin: 0.4rem 0; }
    th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #dde1e7; text-align: left; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    tr.boosted td { font-weight: 600; background: #e8f1fb; }
    .plots { display: flex; flex-wrap: wrap; gap: 1.5rem; }
    figure { margin: 0; }
    figcaption { font-size: 0.85rem; color: #4a5263; max-width: 520px; }
    code { background: #eceff3; padding: 0 0.25rem; border-radius: 3px; }
  `;

  override async connectedCallback(): Promise<void> {
    super.connectedCallback();
    try {
      const response = await fetch(RESULT_URL);
      if (!response.ok) throw new Error(`${RESULT_URL}: HTTP ${response.status}`);
      this.report = readReweighting(await response.json());
      this.dataset.status = 'ready';
    } catch (error) {
      this.problem = (error as Error).message;
      this.dataset.status = 'error';
    }
  }

  override render(): TemplateResult {
    const header = html`<h1>Experiments: reweighting by influence <a href="./">← Workbench</a></h1>`;
    if (this.problem) return html`${header}<p class="problem" data-error>${this.problem}</p>`;
    const r = this.report;
    if (!r) return html`${header}<p class="note">Loading the result…</p>`;
    return html`
      ${header}
      <p>
        Does the paper's difficulty flip help a small model? The influence table of the demo's training data on GSM8K
        and MBPP queries decides the mixture weights; every arm is retrained from scratch with ${r.summary[0]?.seeds}
        seeds and measured on held-out queries (${Object.entries(r.heldOut)
          .map(([b, n]) => `${n} ${b}`)
          .join(', ')}).
      </p>
      ${
        r.partial
          ? html`<p class="problem" data-partial>
            Partial result: ${r.partial.runs} of ${r.partial.of} retrains finished when this file was written.
          </p>`
          : ''
      }
      <p class="note" data-run>
        <code>${r.command}</code> · ${r.machine} ·
        ${
          r.wallSeconds === null
            ? 'still running'
            : `${Math.round(r.wallSeconds)} s wall, ${Math.round(r.cpuSeconds ?? 0)} CPU s · load ${r.loads.join('; ')}`
        }
      </p>
      <h2>Held-out mean log-likelihood of the reference answers</h2>
      <div class="plots">${this.plots(r)}</div>
      ${this.armTable(r)}
      <h2>The rule and the weights it chose</h2>
      <p data-rule>${r.rule.text} Boost ${r.rule.boost}.</p>
      ${this.cellTable(r)}
      <h2>Arms</h2>
      <ul>
        ${r.arms.map((a) => html`<li><b>${a.arm}</b>: ${a.description}</li>`)}
      </ul>
      <p class="note">
        Influence: EK-FAC on ${r.models.attributed}, ${r.poolSize} pool examples ×
        ${Object.entries(r.tableQueries)
          .map(([b, n]) => `${n} ${b}`)
          .join(' + ')} table queries. Retrained:
        ${r.models.retrained}, ${r.training.steps} steps of ${r.training.batchSize}. Top subset: ${r.subsetSize}
        examples. Intervals: Student-t 95 % over seeds; “vs original” pairs each seed with the original mixture's run
        from the same initialisation and batch seed.
      </p>
    `;
  }

  private plots(r: ReweightingReport): TemplateResult {
    const rows = r.summary.map((s) => ({
      ...s,
      mean: s.logLikelihood.mean,
      low: s.logLikelihood.low,
      high: s.logLikelihood.high,
    }));
    const diffs = r.summary
      .filter((s): s is ArmRow & { vsOriginal: NonNullable<ArmRow['vsOriginal']> } => s.vsOriginal !== null)
      .map((s) => ({
        arm: s.arm,
        benchmark: s.benchmark,
        mean: s.vsOriginal.mean,
        low: s.vsOriginal.low,
        high: s.vsOriginal.high,
      }));
    const arms = r.arms.map((a) => a.arm);
    const colour = { domain: arms, range: arms.map((a) => ARM_COLOURS[a] ?? '#333'), legend: false };
    const common = { width: 500, height: 300, marginLeft: 60, marginBottom: 40, x: { domain: arms, label: null } };
    const absolute = Plot.plot({
      ...common,
      fx: { label: null },
      y: { label: 'mean log-likelihood (nats/token)', grid: true, zero: false },
      color: colour,
      marks: [
        Plot.ruleX(rows, { x: 'arm', fx: 'benchmark', y1: 'low', y2: 'high', stroke: 'arm', strokeWidth: 2 }),
        Plot.dot(rows, { x: 'arm', fx: 'benchmark', y: 'mean', fill: 'arm', r: 4, tip: true }),
      ],
    });
    const relative = Plot.plot({
      ...common,
      fx: { label: null },
      y: { label: 'arm − original (nats/token)', grid: true },
      color: colour,
      marks: [
        Plot.ruleY([0], { stroke: '#888' }),
        Plot.ruleX(diffs, { x: 'arm', fx: 'benchmark', y1: 'low', y2: 'high', stroke: 'arm', strokeWidth: 2 }),
        Plot.dot(diffs, { x: 'arm', fx: 'benchmark', y: 'mean', fill: 'arm', r: 4, tip: true }),
      ],
    });
    return html`
      <figure data-plot="absolute">${absolute}<figcaption>Each arm's mean over seeds with its 95 % interval, per benchmark (higher is better).</figcaption></figure>
      <figure data-plot="relative">${relative}<figcaption>Each arm minus the original mixture, seed by seed (above 0: better than the original).</figcaption></figure>
    `;
  }

  private armTable(r: ReweightingReport): TemplateResult {
    const span = (low: number | null, high: number | null) => `[${formatValue(low)}, ${formatValue(high)}]`;
    return html`<table data-arms>
      <thead><tr><th>arm</th><th>benchmark</th><th>seeds</th><th>log-likelihood</th><th>95 % interval</th>
        <th>exact match</th><th>vs original</th><th>95 % interval</th></tr></thead>
      <tbody>
        ${r.summary.map(
          (s) => html`<tr data-arm=${s.arm} data-benchmark=${s.benchmark}>
            <td>${s.arm}</td><td>${s.benchmark}</td><td class="num">${s.seeds}</td>
            <td class="num" data-field="mean">${formatValue(s.logLikelihood.mean)}</td>
            <td class="num" data-field="interval">${span(s.logLikelihood.low, s.logLikelihood.high)}</td>
            <td class="num" data-field="exact">${formatValue(s.exactMatch.mean, 3)}</td>
            <td class="num" data-field="diff">${s.vsOriginal ? formatValue(s.vsOriginal.mean) : '–'}</td>
            <td class="num" data-field="diff-interval">${s.vsOriginal ? span(s.vsOriginal.low, s.vsOriginal.high) : '–'}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
  }

  private cellTable(r: ReweightingReport): TemplateResult {
    const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
    return html`<table data-cells>
      <thead><tr><th>domain</th><th>difficulty</th><th>score</th><th>weight per example</th><th>share before</th>
        <th>share after</th></tr></thead>
      <tbody>
        ${r.cells.map(
          (c) => html`<tr class=${c.boosted ? 'boosted' : ''} data-cell=${`${c.domain}/${c.difficulty}`}>
            <td>${c.domain}</td><td>${c.difficulty}${c.boosted ? ' (boosted)' : ''}</td>
            <td class="num">${formatValue(c.score, 3)}</td><td class="num" data-field="weight">${formatValue(c.weight, 3)}</td>
            <td class="num">${pct(c.originalShare)}</td><td class="num">${pct(c.share)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'reweighting-view': ReweightingView;
  }
}
