import * as Plot from '@observablehq/plot';
import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { pearson } from '../../core/stats';
import { agreements, METHODS, predictedChange, queryRow, type Method, type ScoredRun } from '../../teach/results';
import { formatNumber } from './colour';

/** 2e-3, not 2.0e-3 or 0.0e+0: narrow panels. */
function shortTick(v: number): string {
  return v === 0 ? '0' : Number(v.toPrecision(2)).toExponential();
}

export const METHOD_TITLES: Readonly<Record<Method | 'loo', string>> = {
  exact: 'Exact (dense GGN)',
  ekfac: 'EK-FAC',
  kfac: 'K-FAC',
  diagonal: 'Diagonal',
  identity: 'Identity (grad · grad)',
  loo: 'Leave-one-out (retrained)',
};

/**
 * Methods side by side: for the query, each method's predicted change of the query's log-likelihood when a point is
 * left out (−τ/N) against the change actual retraining gives, with Pearson and Spearman; and each method's Pearson
 * against the exact influence. The numbers are also data attributes (full precision) for the e2e test.
 */
@customElement('lab-methods')
export class LabMethods extends LitElement {
  @property({ attribute: false }) result: ScoredRun | null = null;
  @property({ type: Number }) query = 0;
  @property() selected: Method | 'loo' = 'ekfac';

  protected override createRenderRoot() {
    return this;
  }

  private scatter(result: ScoredRun, method: Method) {
    const n = result.trainCount;
    const predicted = predictedChange(result, method, this.query);
    const actual = queryRow(result.loo, this.query, n);
    const data = Array.from(predicted, (p, i) => ({ predicted: p, actual: actual[i], index: i }));
    const lo = Math.min(...actual, ...(method === 'identity' ? [] : predicted));
    const hi = Math.max(...actual, ...(method === 'identity' ? [] : predicted));
    return Plot.plot({
      width: 210,
      height: 190,
      marginLeft: 48,
      marginBottom: 34,
      style: { fontSize: '10px', background: 'transparent' },
      x: { label: 'predicted Δf', ticks: 3, tickFormat: shortTick },
      y: { label: 'actual Δf (LOO)', ticks: 4, tickFormat: shortTick },
      marks: [
        // Same units for every method but identity (no curvature, no 1/N): there y = x is meaningless.
        method === 'identity'
          ? null
          : Plot.line(
              [
                [lo, lo],
                [hi, hi],
              ],
              { stroke: '#aab', strokeDasharray: '3 3' },
            ),
        Plot.ruleY([0], { stroke: '#dde' }),
        Plot.ruleX([0], { stroke: '#dde' }),
        Plot.dot(data, {
          x: 'predicted',
          y: 'actual',
          r: 2.5,
          fill: '#3b4a6b',
          fillOpacity: 0.75,
          title: (d: { index: number }) => `point ${d.index}`,
        }),
      ],
    });
  }

  override render() {
    const result = this.result;
    if (!result) return html`<p class="hint">Computing…</p>`;
    const scores = agreements(result, this.query);
    const n = result.trainCount;
    const exact = queryRow(result.methods.exact.tau, this.query, n);
    return html` <table class="methods">
        <thead>
          <tr>
            <th>Method</th>
            <th>Pearson vs LOO</th>
            <th>Spearman vs LOO</th>
            <th>Pearson vs exact</th>
          </tr>
        </thead>
        <tbody>
          ${METHODS.map((m) => {
            const vsExact = pearson(queryRow(result.methods[m].tau, this.query, n), exact);
            return html`<tr
              data-method=${m}
              class=${m === this.selected ? 'selected' : ''}
              data-pearson=${String(scores[m].pearson)}
              data-spearman=${String(scores[m].spearman)}
              data-vs-exact=${String(vsExact)}
            >
              <td>${METHOD_TITLES[m]}</td>
              <td class="num">${formatNumber(scores[m].pearson)}</td>
              <td class="num">${formatNumber(scores[m].spearman)}</td>
              <td class="num">${m === 'exact' ? '1' : formatNumber(vsExact)}</td>
            </tr>`;
          })}
        </tbody>
      </table>
      <div class="scatters">
        ${METHODS.map(
          (m) =>
            html`<figure class="scatter" data-method=${m}>
              <figcaption>${METHOD_TITLES[m]}</figcaption>
              ${this.scatter(result, m)}
            </figure>`,
        )}
      </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'lab-methods': LabMethods;
  }
}
