import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { ProgressEvent } from '../worker/protocol';

/** The current stage of a running attribution: a bar, the counts, the rate and the time left. */
@customElement('attribution-progress')
export class AttributionProgress extends LitElement {
  @property({ attribute: false }) progress: ProgressEvent | undefined;

  static override styles = css`
    :host { display: block; margin: 0.75rem 0; }
    progress { width: 100%; height: 1rem; }
    .line { display: flex; gap: 1rem; font-size: 0.9rem; color: #4a5263; }
    .stage { font-weight: 600; color: #1d2330; }
  `;

  override render() {
    const p = this.progress;
    if (!p) return html`<progress data-stage="starting"></progress><div class="line">Starting…</div>`;
    const fraction = p.total > 0 ? p.done / p.total : 0;
    return html`
      <progress data-stage=${p.stage} max="1" .value=${fraction}></progress>
      <div class="line">
        <span class="stage" data-progress-stage>${p.stage}</span>
        <span data-progress-count>${p.done.toLocaleString()} / ${p.total.toLocaleString()} ${p.unit}</span>
        <span>${formatRate(p.itemsPerSecond)} ${p.unit}/s</span>
        <span>${p.etaSeconds === null ? '' : `about ${formatSeconds(p.etaSeconds)} left`}</span>
      </div>
      ${
        p.backend
          ? html`<div class="line" data-progress-backend=${p.backend.kind}>Backend: ${p.backend.description} (${p.backend.reason})</div>`
          : ''
      }
    `;
  }
}

function formatRate(rate: number): string {
  if (!Number.isFinite(rate) || rate <= 0) return '–';
  return rate >= 100 ? Math.round(rate).toLocaleString() : rate.toPrecision(3);
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - 60 * minutes)} s`;
}

declare global {
  interface HTMLElementTagNameMap {
    'attribution-progress': AttributionProgress;
  }
}
