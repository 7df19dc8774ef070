import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { ModelLayers } from '../worker/model-preview';

/**
 * The picked model's linear layers before a run, where the tracked layers are chosen: node, op, d_in → d_out, the
 * MLP role the graph's structure shows, and a mark on each layer the current choice tracks. Names come from the
 * user's file and are rendered as text.
 */
@customElement('model-layers-view')
export class ModelLayersView extends LitElement {
  @property({ attribute: false }) summary: ModelLayers | null = null;
  /** Why there is no list (the model could not be read), or ''. */
  @property() problem = '';

  static override styles = css`
    :host { display: block; font-size: 0.85rem; }
    table { border-collapse: collapse; margin-top: 0.3rem; }
    th, td { padding: 0.1rem 0.5rem; text-align: left; border-bottom: 1px solid #eef0f3; }
    td.dims { font-variant-numeric: tabular-nums; white-space: nowrap; }
    td.role { white-space: nowrap; }
    tr[data-tracked='true'] td { background: #eef6ee; }
    .problem { color: #a4161a; }
    code { font-size: 0.8rem; }
  `;

  override render() {
    if (this.problem) return html`<p class="problem" data-layers-problem>${this.problem}</p>`;
    const summary = this.summary;
    if (!summary) return html`<p data-layers-empty>Pick a model to see its layers.</p>`;
    const tracked = summary.layers.filter((l) => l.tracked);
    const parameters = tracked.reduce((sum, l) => sum + l.dOut * (l.dIn + (l.hasBias ? 1 : 0)), 0);
    return html`
      <p data-layers-summary>
        ${tracked.length} of ${summary.layers.length} linear layers tracked (${parameters.toLocaleString('en')}
        parameters). Inputs fed: ${summary.inputs.join(', ')}. Vocabulary ${summary.vocabulary ?? 'unknown'}, context
        ${summary.context ?? 'not fixed by the graph'}.
        ${summary.castFrom ? `Its ${summary.castFrom} weights are cast to float32 on load.` : ''}
        ${summary.dequantized ? `Quantized: dequantized to float32 on load (${summary.dequantized}).` : ''}
        Exported by: ${summary.exporter}.
      </p>
      ${summary.problem ? html`<p class="problem" data-layers-problem>${summary.problem}</p>` : ''}
      <table>
        <thead>
          <tr><th>tracked</th><th>node</th><th>op</th><th>d_in → d_out</th><th>role</th><th>weight</th></tr>
        </thead>
        <tbody>
          ${summary.layers.map(
            (l) => html`<tr data-layer=${l.nodeName} data-tracked=${String(l.tracked)}>
              <td>${l.tracked ? '✓' : ''}</td><td><code>${l.nodeName}</code></td><td>${l.opType}</td>
              <td class="dims">${l.dIn} → ${l.dOut}${l.hasBias ? ' + bias' : ''}</td>
              <td class="role">${l.role}</td>
              <td><code>${l.weightName}</code></td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'model-layers-view': ModelLayersView;
  }
}
