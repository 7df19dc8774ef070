import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { queryRow, type Method } from '../../teach/lab';
import { LM_QUERIES, LM_VOCAB } from '../../teach/lm';
import type { LmResult } from '../../teach/lm-lab';
import { divergingColour, formatNumber, HARMS_COLOUR, HELPS_COLOUR, maxAbs } from './colour';

/**
 * The tiny LM's view: pick a query sentence; every training sentence is listed with its influence on it (the chosen
 * method's τ, or −N·Δf for leave-one-out) and each of its predicted tokens coloured by EK-FAC's per-token score —
 * the engine's per-token τ, which sums over a sentence's tokens to the sentence's τ. Sentences are our own fixed
 * strings, rendered as text.
 */
@customElement('lab-lm')
export class LabLm extends LitElement {
  @property({ attribute: false }) result: LmResult | null = null;
  @property({ type: Number }) query = 0;
  @property() method: Method | 'loo' = 'ekfac';

  protected override createRenderRoot() {
    return this;
  }

  private select(q: number) {
    this.dispatchEvent(new CustomEvent('select-query', { detail: q, bubbles: true, composed: true }));
  }

  override render() {
    const r = this.result;
    const queries = html`<div class="lm-queries">
      <span>Query sentence:</span>
      ${LM_QUERIES.map(
        (sentence, q) =>
          html`<button class=${q === this.query ? 'selected' : ''} data-query=${q} @click=${() => this.select(q)}>
            ${sentence}
          </button>`,
      )}
    </div>`;
    if (!r)
      return html`${queries}
        <p class="hint">Computing…</p>`;
    const n = r.trainCount;
    const scores =
      this.method === 'loo'
        ? queryRow(r.loo, this.query, n).map((v) => -v * n)
        : queryRow(r.methods[this.method].tau, this.query, n);
    const { offsets, values } = r.perToken;
    const row = values.subarray(this.query * offsets[n], (this.query + 1) * offsets[n]);
    const tokenScale = maxAbs(row);
    const sentenceScale = maxAbs(scores);
    const order = Array.from(scores, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
    return html`${queries}
      <table class="lm-sentences">
        <thead>
          <tr>
            <th>Training sentence (tokens: EK-FAC per-token τ)</th>
            <th>τ (${this.method})</th>
          </tr>
        </thead>
        <tbody>
          ${order.map((i) => {
            const ids = r.train[i];
            return html`<tr data-sentence=${i} data-score=${String(scores[i])}>
              <td class="tokens">
                <span class="token start">${LM_VOCAB[ids[0]]}</span>${ids.slice(1).map((id, t) => {
                  const v = row[offsets[i] + t];
                  return html`<span
                    class="token"
                    data-token-score=${String(v)}
                    style="background:${divergingColour(v / tokenScale)}"
                    title=${`predicting "${LM_VOCAB[id]}" after "${LM_VOCAB[ids[t]]}": ${formatNumber(v)}`}
                    >${LM_VOCAB[id]}</span
                  >`;
                })}
              </td>
              <td class="num">
                <span class="bar" style="background:${divergingColour(scores[i] / sentenceScale)}"></span
                >${formatNumber(scores[i])}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      <div class="legend">
        <span
          class="swatch"
          style="background:linear-gradient(90deg, ${HARMS_COLOUR}, #f7f7f7, ${HELPS_COLOUR})"
        ></span>
        <span
          >harms ← influence on the query sentence's log-likelihood → helps. A token's score belongs to the step that
          predicts it; a sentence's tokens sum to its EK-FAC τ.</span
        >
      </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'lab-lm': LabLm;
  }
}
