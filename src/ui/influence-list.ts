import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { InfluenceRow } from '../worker/protocol';

/**
 * One ranked list of training examples with their scores. Example text comes from user files or bundles, so it is
 * only ever interpolated as text (Lit escapes it), never as HTML.
 */
@customElement('influence-list')
export class InfluenceList extends LitElement {
  @property() heading = '';
  @property() kind: 'helpful' | 'harmful' = 'helpful';
  @property({ attribute: false }) rows: readonly InfluenceRow[] = [];

  static override styles = css`
    :host { display: block; flex: 1; min-width: 20rem; }
    h3 { font-size: 1rem; margin: 0.5rem 0; }
    ol { margin: 0; padding-left: 1.5rem; }
    li { margin-bottom: 0.6rem; }
    .score { font-family: ui-monospace, monospace; font-weight: 600; }
    :host([kind='helpful']) .score { color: #1b6e3a; }
    :host([kind='harmful']) .score { color: #a4161a; }
    .meta { color: #4a5263; font-size: 0.85rem; }
    pre { white-space: pre-wrap; margin: 0.2rem 0 0; font-size: 0.85rem; max-height: 8rem; overflow: auto; background: #fff; border: 1px solid #e3e6eb; padding: 0.3rem; }
  `;

  override render() {
    return html`
      <h3>${this.heading}</h3>
      ${
        this.rows.length === 0
          ? html`<p class="meta">No training example has ${this.kind === 'helpful' ? 'positive' : 'negative'} influence.</p>`
          : html`<ol>
            ${this.rows.map(
              (row) => html`<li data-train-id=${row.trainId}>
                <span class="score" data-score data-value=${String(row.score)} title=${String(row.score)}
                  >${formatScore(row.score)}</span
                >
                <span class="meta">${row.trainId}${row.domain ? ` · ${row.domain}` : ''}${row.difficulty ? ` · ${row.difficulty}` : ''}</span>
                <pre data-text>${row.prompt}\n→ ${row.response}</pre>
              </li>`,
            )}
          </ol>`
      }
    `;
  }
}

function formatScore(score: number): string {
  const text =
    Math.abs(score) >= 1e4 || (score !== 0 && Math.abs(score) < 1e-3) ? score.toExponential(3) : score.toFixed(4);
  return score > 0 ? `+${text}` : text;
}

declare global {
  interface HTMLElementTagNameMap {
    'influence-list': InfluenceList;
  }
}
