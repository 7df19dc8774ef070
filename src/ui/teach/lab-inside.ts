import * as Plot from '@observablehq/plot';
import katex from 'katex';
import { LitElement, html } from 'lit';
import { unsafeHTML } from 'lit/directives/unsafe-html.js';
import { customElement, property, state } from 'lit/decorators.js';
import { insideEkfac, type InsideLayer, type Matrix } from '../../teach/inside';
import type { ScoredRun } from '../../teach/results';

/** Our own formula strings only (never data), typeset by KaTeX into HTML + MathML. */
function tex(source: string, display = true) {
  return unsafeHTML(
    katex.renderToString(source, { displayMode: display, throwOnError: false, output: 'htmlAndMathml' }),
  );
}

const EIGENBASES = String.raw`\begin{gathered}A = Q_A \operatorname{diag}(\lambda_A)\, Q_A^\top\\
  S = Q_S \operatorname{diag}(\lambda_S)\, Q_S^\top\end{gathered}`;
const CORRECTION = String.raw`\begin{gathered}\Lambda = \tfrac1N \textstyle\sum_n \big(Q_S^\top G_n Q_A\big)^{\circ 2}\\
  \text{K-FAC:}\;\; \Lambda_{ij} = \lambda_{S,i}\,\lambda_{A,j}\end{gathered}`;
const PRECONDITIONED = String.raw`\begin{gathered}
  P_q = Q_S\big[(Q_S^\top G_q Q_A) \oslash (\Lambda + \delta)\big]\, Q_A^\top\\
  \tau(q,n) = \langle P_q, G_n\rangle\end{gathered}`;

function heatmap(m: Matrix, label: string) {
  const data: { row: number; col: number; value: number }[] = [];
  for (let i = 0; i < m.rows; i++)
    for (let j = 0; j < m.cols; j++) data.push({ row: i, col: j, value: m.data[i * m.cols + j] });
  const limit = Math.max(1e-300, ...data.map((d) => Math.abs(d.value)));
  const cell = Math.max(9, Math.min(34, Math.floor(200 / Math.max(m.rows, m.cols))));
  return Plot.plot({
    width: 44 + cell * m.cols,
    height: 40 + cell * m.rows,
    marginLeft: 26,
    marginTop: 22,
    marginBottom: 18,
    padding: 0.04,
    style: { fontSize: '9px', background: 'transparent' },
    x: { axis: 'top', label: null, tickFormat: (v: number) => (m.cols > 12 && v % 2 ? '' : String(v)) },
    y: { label: null, tickFormat: (v: number) => (m.rows > 12 && v % 2 ? '' : String(v)) },
    color: { type: 'diverging', scheme: 'PuOr', domain: [-limit, limit] },
    marks: [
      Plot.cell(data, {
        x: 'col',
        y: 'row',
        fill: 'value',
        title: (d: { value: number }) => `${label}: ${d.value.toPrecision(4)}`,
      }),
    ],
  });
}

/** Labels only at 1, 2 and 5 × 10^k (log axes get crowded otherwise). */
function powerOfTen(v: number): string {
  const e = Math.floor(Math.log10(v) + 1e-9);
  const m = Math.round((v / 10 ** e) * 1000) / 1000;
  return m === 1 || m === 2 || m === 5 ? `${m}e${e}` : '';
}

function eigenvalueComparison(layer: InsideLayer) {
  const data = Array.from(layer.lambda.data, (lambda, k) => ({ lambda, kfac: layer.kfac.data[k] }));
  const floor = Math.max(1e-12, Math.min(...data.flatMap((d) => [d.lambda, d.kfac]).filter((v) => v > 0)));
  const clipped = data.map((d) => ({ lambda: Math.max(d.lambda, floor), kfac: Math.max(d.kfac, floor) }));
  const hi = Math.max(...clipped.flatMap((d) => [d.lambda, d.kfac]));
  return Plot.plot({
    width: 250,
    height: 220,
    marginLeft: 52,
    marginBottom: 36,
    style: { fontSize: '10px', background: 'transparent' },
    x: { type: 'log', label: 'K-FAC λ_S[i]·λ_A[j]', tickFormat: powerOfTen },
    y: { type: 'log', label: 'EK-FAC Λ[i,j]', tickFormat: powerOfTen },
    marks: [
      Plot.line(
        [
          [floor, floor],
          [hi, hi],
        ],
        { stroke: '#aab', strokeDasharray: '3 3' },
      ),
      Plot.ruleY([layer.damping], { stroke: '#e66101' }),
      Plot.text([{ x: floor, y: layer.damping }], { x: 'x', y: 'y', text: () => 'δ', dy: -6, dx: 6, fill: '#e66101' }),
      Plot.dot(clipped, { x: 'kfac', y: 'lambda', r: 2.5, fill: '#5e3c99' }),
    ],
  });
}

/**
 * Inside EK-FAC, step by step, for one tracked layer of the engine's own run: the covariances, their eigenbases, the
 * eigenvalue correction against K-FAC's product, and the preconditioned query gradient.
 */
@customElement('lab-inside')
export class LabInside extends LitElement {
  @property({ attribute: false }) result: ScoredRun | null = null;
  @property({ type: Number }) query = 0;
  @state() private layer = 0;

  protected override createRenderRoot() {
    return this;
  }

  override render() {
    if (!this.result) return html``;
    const layers = insideEkfac(this.result, this.query);
    const index = Math.min(this.layer, layers.length - 1);
    const layer = layers[index];
    const picker =
      layers.length > 1
        ? html`<label
            >Layer
            <select @change=${(e: Event) => (this.layer = Number((e.target as HTMLSelectElement).value))}>
              ${layers.map(
                (l, i) =>
                  html`<option value=${i} ?selected=${i === index}>
                    ${l.name} (${l.gradient.rows} × ${l.activation.rows})
                  </option>`,
              )}
            </select></label
          >`
        : html`<span class="hint"
            >One tracked layer: ${layer.name} (${layer.gradient.rows} outputs × ${layer.activation.rows} inputs with the
            bias).</span
          >`;
    return html` <div class="inside-head">${picker}</div>
      <div class="panels">
        <section class="panel" data-panel="covariances">
          <h3>1 · Covariances A and S</h3>
          ${tex(String.raw`A = \mathbb{E}\big[\tilde a\,\tilde a^\top\big],\qquad S = \mathbb{E}\big[g\,g^\top\big]`)}
          <p>
            A is the second moment of the layer's inputs (a 1 appended for the bias), S that of the gradients at its
            outputs, with labels drawn from the model (true Fisher) or the data (empirical). K-FAC's bet: the Fisher of
            the layer is S ⊗ A.
          </p>
          <div class="maps">
            <figure>
              ${heatmap(layer.activation, 'A')}
              <figcaption>A</figcaption>
            </figure>
            <figure>
              ${heatmap(layer.gradient, 'S')}
              <figcaption>S</figcaption>
            </figure>
          </div>
        </section>
        <section class="panel" data-panel="eigenbases">
          <h3>2 · Eigenbases</h3>
          ${tex(EIGENBASES)}
          <p>
            The columns of Q_A and Q_S are the directions in which inputs and gradients vary independently. In the basis
            Q_S ⊗ Q_A the Kronecker-factored curvature is diagonal, so inverting it is dividing.
          </p>
          <div class="maps">
            <figure>
              ${heatmap(layer.activationVectors, 'Q_A')}
              <figcaption>Q_A (columns)</figcaption>
            </figure>
            <figure>
              ${heatmap(layer.gradientVectors, 'Q_S')}
              <figcaption>Q_S (columns)</figcaption>
            </figure>
          </div>
        </section>
        <section class="panel" data-panel="lambda">
          <h3>3 · Eigenvalue correction Λ</h3>
          ${tex(CORRECTION)}
          <p>
            K-FAC uses the products λ_S[i]·λ_A[j] as the curvature; EK-FAC re-measures it per direction from the
            per-example gradients G_n. Points off the diagonal are where K-FAC's independence assumption fails. The
            orange line is the damping δ: directions below it are set by δ, not by the data.
          </p>
          ${eigenvalueComparison(layer)}
        </section>
        <section class="panel" data-panel="preconditioned">
          <h3>4 · Preconditioned query gradient</h3>
          ${tex(PRECONDITIONED)}
          <p>
            The query's gradient G_q, rotated into the eigenbasis, divided by curvature plus δ and rotated back. Each
            training point's score is the inner product of P_q with its own gradient: directions of low curvature are
            amplified.
          </p>
          <div class="maps">
            <figure>
              ${heatmap(layer.queryGradient, 'G_q')}
              <figcaption>G_q</figcaption>
            </figure>
            <figure>
              ${heatmap(layer.preconditioned, 'P_q')}
              <figcaption>P_q (δ = ${layer.damping.toExponential(1)})</figcaption>
            </figure>
          </div>
        </section>
      </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'lab-inside': LabInside;
  }
}
