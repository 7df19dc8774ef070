/**
 * "Compare two responses": after both responses of the Ask panel are attributed against a run's factors, the
 * training examples ranked by I(n, A) − I(n, B) (raw influence, as `iwb attribute --generate … --compare` ranks them):
 * those that push toward response A rather than B, then toward B rather than A. Ids are data: rendered as text.
 */
import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { Task } from '@lit/task';
import type { StoredComparison } from '../worker/protocol';
import { formatScore } from './workspace/model';

const SHOWN = 10;

@customElement('response-comparison')
export class ResponseComparison extends LitElement {
  @property({ attribute: 'run-id' }) runId = '';
  @property({ attribute: false }) compare: ((runId: string, k: number) => Promise<StoredComparison>) | undefined;

  private readonly comparison = new Task(this, {
    task: async ([compare, runId]) => (compare && runId ? compare(runId, SHOWN) : undefined),
    args: () => [this.compare, this.runId] as const,
  });

  static override styles = css`
    :host { display: block; margin: 1rem 0; }
    .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
    @media (max-width: 50rem) { .pair { grid-template-columns: 1fr; } }
    ol { padding-left: 1.6rem; margin: 0.3rem 0; font-size: 0.9rem; }
    .num { font-variant-numeric: tabular-nums; color: #4a5263; }
    .note { color: #4a5263; font-size: 0.9rem; }
    .problem { color: #b3261e; }
  `;

  override render() {
    return html`<section data-comparison aria-label="comparison of two responses">
      <h3>Which training examples push toward response A rather than B</h3>
      ${this.comparison.render({
        pending: () => html`<p class="note">Comparing…</p>`,
        error: (error) => html`<p class="problem" data-error>${(error as Error).message}</p>`,
        complete: (c) => (c ? this.renderLists(c) : html``),
      })}
    </section>`;
  }

  private renderLists(c: StoredComparison) {
    const list = (rows: StoredComparison['towardA'], side: string) =>
      rows.length === 0
        ? html`<p class="note">(none)</p>`
        : html`<ol data-toward=${side}>
            ${rows.map(
              (r) => html`<li data-train-id=${r.id} data-difference=${String(r.difference)}>${r.id}
                <span class="num">${formatScore(r.difference)}</span></li>`,
            )}
          </ol>`;
    return html`<p class="note">Difference of raw influence per training example, I(A) − I(B), both measured against
        this run's factors; the ${SHOWN} largest each way.</p>
      <div class="pair">
        <div><strong>Toward ${c.a} rather than ${c.b}</strong>${list(c.towardA, 'a')}</div>
        <div><strong>Toward ${c.b} rather than ${c.a}</strong>${list(c.towardB, 'b')}</div>
      </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'response-comparison': ResponseComparison;
  }
}
