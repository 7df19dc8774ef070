import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { ProgressEvent, RunEstimate } from '../worker/protocol';
import { overallFraction } from './overall-progress';

/**
 * A running attribution: the whole run (a bar weighted by the estimate's stages, the time since the click against the
 * estimate), then the current stage (its bar, counts, rate and time left). The steps before the engine (loading the
 * data, preparing the model) have no counts: their bar is indeterminate and their line says how long they have taken.
 */
@customElement('attribution-progress')
export class AttributionProgress extends LitElement {
  @property({ attribute: false }) progress: ProgressEvent | undefined;
  /** The estimate the run was started with (null: none, e.g. a resumed run). */
  @property({ attribute: false }) estimate: RunEstimate | null = null;
  /** performance.now() at the click. */
  @property({ type: Number }) startedAt = 0;
  @state() private now = performance.now();
  private stageName = '';
  private stageStartedAt = 0;
  /** The overall bar never moves back (a stage finishing sooner or later than estimated). */
  private shown = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  static override styles = css`
    :host { display: block; margin: 0.75rem 0; }
    progress { width: 100%; height: 1rem; }
    progress.overall { height: 0.6rem; }
    .line { display: flex; gap: 1rem; font-size: 0.9rem; color: #4a5263; flex-wrap: wrap; }
    .stage { font-weight: 600; color: #1d2330; }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    // Elapsed times tick once a second, also while a step sends no progress.
    this.timer = setInterval(() => (this.now = performance.now()), 1000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.timer);
  }

  protected override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('startedAt')) this.shown = 0;
    const stage = this.progress?.stage ?? '';
    if (stage !== this.stageName) {
      this.stageName = stage;
      this.stageStartedAt = performance.now();
    }
  }

  override render() {
    const p = this.progress;
    const elapsed = Math.max(0, (this.now - this.startedAt) / 1000);
    return html`${this.renderOverall(p, elapsed)}${p ? this.renderStage(p) : html`<progress data-stage="starting"></progress><div class="line">Starting…</div>`}`;
  }

  private renderOverall(p: ProgressEvent | undefined, elapsed: number) {
    const estimate = this.estimate;
    const fraction =
      p && estimate ? overallFraction(p, (performance.now() - this.stageStartedAt) / 1000, estimate) : null;
    if (fraction !== null) this.shown = Math.max(this.shown, fraction);
    const total = estimate ? ` of about ${formatSeconds(estimate.seconds)} estimated` : '';
    return html`<div class="line" data-overall-line><span class="stage">Whole run</span>
        <span data-elapsed>${formatSeconds(elapsed)} since the click${total}</span>
        ${fraction === null ? '' : html`<span>${Math.round(100 * this.shown)} %</span>`}</div>
      ${
        fraction === null
          ? html`<progress class="overall" data-overall></progress>`
          : html`<progress class="overall" data-overall=${this.shown.toFixed(3)} max="1" .value=${this.shown}></progress>`
      }`;
  }

  private renderStage(p: ProgressEvent) {
    if (p.unit === 'steps') {
      // No counts before the engine: say what it does and for how long, with a bar that shows it is working.
      const seconds = Math.max(0, (this.now - this.stageStartedAt) / 1000);
      return html`<progress data-stage=${p.stage}></progress>
        <div class="line"><span class="stage" data-progress-stage>${p.stage}</span>
          <span data-progress-count>${formatSeconds(seconds)} so far</span></div>
        ${this.renderBackend(p)}`;
    }
    const fraction = p.total > 0 ? p.done / p.total : 0;
    return html`
      <progress data-stage=${p.stage} max="1" .value=${fraction}></progress>
      <div class="line">
        <span class="stage" data-progress-stage>${p.stage}</span>
        <span data-progress-count>${p.done.toLocaleString()} / ${p.total.toLocaleString()} ${p.unit}</span>
        <span>${formatRate(p.itemsPerSecond)} ${p.unit}/s</span>
        <span>${p.etaSeconds === null ? '' : `about ${formatSeconds(p.etaSeconds)} left`}</span>
      </div>
      ${this.renderBackend(p)}
    `;
  }

  private renderBackend(p: ProgressEvent) {
    return p.backend
      ? html`<div class="line" data-progress-backend=${p.backend.kind}>Backend: ${p.backend.description} (${p.backend.reason})</div>`
      : '';
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
