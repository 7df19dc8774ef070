import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { PageRequest, RunEstimate } from '../worker/protocol';

export type Estimator = (request: PageRequest) => Promise<RunEstimate>;

/**
 * The run settings' estimate before starting: memory per stage against the device's budget and binding limit, time per
 * stage, and the batch sizes the memory planner chose (app/run-plan.ts, the same plan `iwb attribute --plan` prints).
 * Recomputed by the worker whenever `request` changes.
 */
@customElement('run-estimate')
export class RunEstimateView extends LitElement {
  @property({ attribute: false }) estimator: Estimator | null = null;
  @property({ attribute: false }) request: PageRequest | null = null;
  @state() private estimate: RunEstimate | null = null;
  @state() private pending = false;
  @state() private problem = '';
  /** For a demo run on a subsample: the same settings on the whole demo (null: not a demo, or not estimated yet). */
  @state() private full: RunEstimate | null = null;
  private queued = false;

  static override styles = css`
    :host { display: block; margin: 0.5rem 0; font-size: 0.9rem; }
    table { border-collapse: collapse; margin: 0.3rem 0; }
    th, td { padding: 0.1rem 0.8rem 0.1rem 0; text-align: right; }
    th:first-child, td:first-child { text-align: left; }
    .note { color: #4a5263; }
    .problem { color: #a4161a; }
    ul { margin: 0.2rem 0; padding-left: 1.2rem; }
  `;

  protected override willUpdate(changed: Map<string, unknown>): void {
    if ((changed.has('request') || changed.has('estimator')) && this.request && this.estimator) void this.refresh();
  }

  /**
   * One estimate in flight at a time (a large model costs the worker seconds and memory to parse): a change meanwhile
   * is estimated once the current one is back, with the settings of that moment.
   */
  private async refresh(): Promise<void> {
    if (this.pending) {
      this.queued = true;
      return;
    }
    this.pending = true;
    try {
      this.estimate = await this.estimator!(this.request!);
      this.problem = '';
      // The page's progress weighs the run's stages by this estimate.
      this.dispatchEvent(new CustomEvent('estimate-changed', { detail: this.estimate, bubbles: true, composed: true }));
      this.full = null;
      const whole = wholeDemo(this.request!);
      if (whole) {
        const full = await this.estimator!(whole);
        const more =
          full.counts.train > this.estimate.counts.train || full.counts.queries > this.estimate.counts.queries;
        this.full = more ? full : null;
      }
    } catch (error) {
      this.estimate = null;
      this.problem = (error as Error).message;
    } finally {
      this.pending = false;
    }
    if (this.queued) {
      this.queued = false;
      void this.refresh();
    }
  }

  override render() {
    const e = this.estimate;
    const status = this.pending ? html`<span class="note" data-estimate-status>estimating…</span>` : '';
    if (!e) {
      return html`<section aria-label="Estimate before starting" data-estimate>
        <strong>Estimate</strong> ${status}
        ${this.problem ? html`<div class="problem" data-estimate-problem>${this.problem}</div>` : ''}
      </section>`;
    }
    const b = e.batchSizes;
    return html`<section aria-label="Estimate before starting" data-estimate>
      <strong>Estimate</strong> for ${e.counts.train} training examples × ${e.counts.queries} queries on ${e.backend}
      ${status}
      <table>
        <thead><tr><th scope="col">stage</th><th scope="col">peak memory</th><th scope="col">time</th></tr></thead>
        <tbody>
          ${e.stages.map(
            (s) =>
              html`<tr data-stage=${s.stage} data-stage-seconds=${String(s.seconds)}><td>${s.stage}</td><td>${s.peak}</td><td>${s.time}</td></tr>`,
          )}
          <tr><th scope="row">total</th><td data-peak>${e.text.peak}</td><td data-seconds
            data-total-seconds=${String(e.seconds)} data-device=${e.deviceKind ?? ''}>${e.text.time}</td></tr>
        </tbody>
      </table>
      <div class="note">
        Batch ${b.fit} (factors) / ${b.train} (scores), query chunk ${b.query}; budget ${e.text.budget}, one
        binding ${e.text.binding}. Tracked: ${e.layers.map((l) => `${l.name} [${l.dIn} → ${l.dOut}]`).join(', ')}.
        Time from ${e.source}${
          e.speed !== undefined && e.speed < 0.9
            ? html`, scaled to this machine as busy as it is now (<span data-speed=${String(e.speed)}
                >${e.speed.toFixed(2)}×</span> the idle speed)`
            : ''
        }: good to a factor of a few. It counts preparing the model
        (<em>prepare</em>: reading the data, the gradient graph, onnxruntime's session and first run) as well as the
        engine's stages.
      </div>
      ${e.text.largest ? html`<div class="note" data-estimate-largest>Largest model on this backend: ${e.text.largest}.</div>` : ''}
      ${
        this.full
          ? html`<div class="note" data-full-estimate=${String(this.full.seconds)}>The whole demo
              (${this.full.counts.train.toLocaleString()} training examples × ${this.full.counts.queries} queries) with
              these settings would take about <strong>${this.full.text.time}</strong> here, at a peak of
              ${this.full.text.peak}${this.full.problems.length ? ' (and does not fit: see its plan)' : ''}. Set
              <em>Training examples</em> and <em>Queries</em> under Options to run more of it.</div>`
          : ''
      }
      ${e.analyses?.length ? html`<ul data-estimate-analyses>${e.analyses.map((a) => html`<li>${a}</li>`)}</ul>` : ''}
      ${e.changes.length ? html`<ul data-estimate-changes>${e.changes.map((c) => html`<li>smaller: ${c}</li>`)}</ul>` : ''}
      ${e.notes.length ? html`<ul data-estimate-notes>${e.notes.map((n) => html`<li>splits: ${n}</li>`)}</ul>` : ''}
      ${e.problems.length ? html`<ul class="problem" data-estimate-problem>${e.problems.map((p) => html`<li>does not fit: ${p}</li>`)}</ul>` : ''}
    </section>`;
  }
}

/** The same request on the whole demo (every training example and query); null for the user's own files. */
function wholeDemo(request: PageRequest): PageRequest | null {
  if (request.source.kind !== 'demo') return null;
  const all = Number.MAX_SAFE_INTEGER;
  return { ...request, config: { ...request.config, limits: { ...request.config.limits, train: all, queries: all } } };
}

declare global {
  interface HTMLElementTagNameMap {
    'run-estimate': RunEstimateView;
  }
}
