import { LitElement, css, html, type TemplateResult } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import * as Plot from '@observablehq/plot';
import { readFlip, type FlipReport } from './flip-data';
import { formatValue } from './reweighting-data';

const RESULT_URL = './experiments/flip.json';
const GROUPS = ['all', 'math', 'code'];
const COLOURS: Record<string, string> = {
  original: '#5b6472',
  flip: '#1f77b4',
  random: '#d68a1a',
  influence: '#2a9d5c',
};

/**
 * The difficulty flip on the synthetic reasoning task (issue 24 §4), read-only: the pre-registered primary comparison
 * (flip − random on accuracy), every paired comparison with its interval, and each arm's accuracy and log-likelihood.
 * Everything shown comes from public/experiments/flip.json; text from the file is rendered as text.
 */
@customElement('flip-view')
export class FlipView extends LitElement {
  @state() private report: FlipReport | null = null;
  @state() private problem: string | null = null;

  static override styles = css`
    :host { display: block; max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem 0; }
    h1 { font-size: 1.5rem; margin: 0.5rem 0; }
    h1 a { font-size: 0.9rem; font-weight: normal; margin-left: 1rem; }
    h2 { font-size: 1.1rem; margin: 1.6rem 0 0.5rem; }
    p, li { line-height: 1.45; }
    .note { color: #4a5263; font-size: 0.9rem; }
    .problem { color: #a4262c; font-weight: 600; }
    .primary { border-left: 4px solid #1f77b4; padding: 0.4rem 0.8rem; background: #f3f7fc; }
    table { border-collapse: collapse; font-size: 0.88rem; margin: 0.4rem 0; }
    th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #dde1e7; text-align: left; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    tr.primary-row td { font-weight: 600; background: #e8f1fb; }
    figcaption { font-size: 0.85rem; color: #4a5263; max-width: 640px; }
    figure { margin: 0; }
  `;

  override async connectedCallback(): Promise<void> {
    super.connectedCallback();
    try {
      const response = await fetch(RESULT_URL);
      if (!response.ok) throw new Error(`${RESULT_URL}: HTTP ${response.status}`);
      this.report = readFlip(await response.json());
      this.dataset.status = 'ready';
    } catch (error) {
      this.problem = (error as Error).message;
      this.dataset.status = 'error';
    }
  }

  override render(): TemplateResult {
    const header = html`<h1>Experiments: the difficulty flip <a href="./">← Workbench</a></h1>`;
    if (this.problem) return html`${header}<p class="problem" data-error>${this.problem}</p>`;
    const r = this.report;
    if (!r) return html`${header}<p class="note">Loading the result…</p>`;
    const primary = r.comparisons.find(
      (c) => c.a === 'flip' && c.b === 'random' && c.group === 'all' && c.metric === 'accuracy',
    );
    const cells = (choice: Readonly<Record<string, string | null>>) =>
      Object.entries(choice)
        .map(([d, f]) => `${f ?? 'none'} ${d}`)
        .join(' + ');
    return html`
      ${header}
      <p>
        Does the paper's flip — more hard math and easy code, same amount of training — make a small model more
        accurate? A synthetic reasoning task (single-digit arithmetic chains and program traces, easy/medium/hard =
        1/2/3 steps); each arm retrained from scratch with ${r.seeds} seeds, the training pool redrawn per seed;
        accuracy = exact match of the greedy-decoded final answer on a fixed held-out set.
      </p>
      ${r.partial ? html`<p class="problem" data-partial>Partial: ${r.partial.runs} of ${r.partial.of} runs.</p>` : ''}
      <p class="primary" data-primary>
        <b>Pre-registered primary comparison</b>: ${r.primaryText}<br />
        ${
          primary
            ? html`Result: flip − random = <b>${formatValue(primary.interval.mean, 3)}</b>
                [${formatValue(primary.interval.low, 3)}, ${formatValue(primary.interval.high, 3)}], sign-flip
                p = ${formatValue(primary.p, 3)} over ${primary.seeds} seeds —
                ${primary.interval.low > 0 ? 'supported' : primary.interval.high < 0 ? 'the flip is worse' : 'not resolved: the interval contains 0'}.`
            : 'not computed yet.'
        }
      </p>
      <p class="note">
        Arms: original (every example weight 1); flip (${cells(r.paperFlip)} boosted, each domain's mass kept);
        random (the flip's weights shuffled within each domain per seed: the same effective sample size); influence
        (the cells EK-FAC influence of a model of the same family and recipe chose: ${cells(r.influenceChoice)}).
      </p>
      <h2>Paired differences (seed by seed)</h2>
      ${this.plot(r)}
      ${this.comparisonTable(r)}
      <h2>Each arm</h2>
      ${this.armTable(r)}
      <p class="note" data-run>
        ${r.steps} steps of ${r.batchSize} per run · ${r.machine} · ${Math.round(r.wallSeconds)} s wall (summed over invocations),
        ${Math.round(r.cpuSeconds)} CPU s · commit ${r.commit.slice(0, 10)} · intervals: Student-t 95 % over seeds.
      </p>
    `;
  }

  private plot(r: FlipReport): TemplateResult {
    const rows = r.comparisons
      .filter((c) => c.metric === 'accuracy')
      .map((c) => ({
        ...c,
        pair: `${c.a} − ${c.b}`,
        mean: c.interval.mean,
        low: c.interval.low,
        high: c.interval.high,
      }));
    const pairs = [...new Set(rows.map((c) => c.pair))];
    const chart = Plot.plot({
      width: 900,
      height: 280,
      marginLeft: 60,
      marginBottom: 70,
      fx: { domain: GROUPS, label: null },
      x: { domain: pairs, label: null, tickRotate: -20 },
      y: { label: 'difference in accuracy', grid: true },
      color: { domain: pairs, range: pairs.map((p) => COLOURS[p.split(' − ')[0]!] ?? '#333') },
      marks: [
        Plot.ruleY([0], { stroke: '#888' }),
        Plot.ruleX(rows, { x: 'pair', fx: 'group', y1: 'low', y2: 'high', stroke: 'pair', strokeWidth: 2 }),
        Plot.dot(rows, { x: 'pair', fx: 'group', y: 'mean', fill: 'pair', r: 4, tip: true }),
      ],
    });
    return html`<figure data-plot="paired">${chart}<figcaption>Accuracy of arm a minus arm b on the same pool,
      initialisation and batch seed, with the 95 % interval over seeds; per held-out set (all, math, code).
      Above 0: a is more accurate.</figcaption></figure>`;
  }

  private comparisonTable(r: FlipReport): TemplateResult {
    return html`<table data-comparisons>
      <thead><tr><th>comparison</th><th>queries</th><th>metric</th><th>seeds</th><th>mean a − b</th>
        <th>95 % interval</th><th>sign-flip p</th></tr></thead>
      <tbody>
        ${r.comparisons.map((c) => {
          const isPrimary = c.a === 'flip' && c.b === 'random' && c.group === 'all' && c.metric === 'accuracy';
          return html`<tr class=${isPrimary ? 'primary-row' : ''} data-pair=${`${c.a}-${c.b}`} data-group=${c.group}>
            <td>${c.a} − ${c.b}${isPrimary ? ' (primary)' : ''}</td><td>${c.group}</td>
            <td>${c.metric === 'accuracy' ? 'accuracy' : 'log-likelihood'}</td><td class="num">${c.seeds}</td>
            <td class="num">${formatValue(c.interval.mean, 4)}</td>
            <td class="num">[${formatValue(c.interval.low, 4)}, ${formatValue(c.interval.high, 4)}]</td>
            <td class="num">${formatValue(c.p, 3)}</td>
          </tr>`;
        })}
      </tbody>
    </table>`;
  }

  private armTable(r: FlipReport): TemplateResult {
    const rows = r.summary.filter((s) => GROUPS.includes(s.group));
    return html`<table data-arms>
      <thead><tr><th>arm</th><th>queries</th><th>seeds</th><th>accuracy</th><th>95 % interval</th>
        <th>log-likelihood</th><th>95 % interval</th></tr></thead>
      <tbody>
        ${rows.map(
          (s) => html`<tr data-arm=${s.arm} data-group=${s.group}>
            <td>${s.arm}</td><td>${s.group}</td><td class="num">${s.seeds}</td>
            <td class="num">${formatValue(s.accuracy.mean, 3)}</td>
            <td class="num">[${formatValue(s.accuracy.low, 3)}, ${formatValue(s.accuracy.high, 3)}]</td>
            <td class="num">${formatValue(s.logLikelihood.mean, 4)}</td>
            <td class="num">[${formatValue(s.logLikelihood.low, 4)}, ${formatValue(s.logLikelihood.high, 4)}]</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'flip-view': FlipView;
  }
}
