import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { EvaluationApi, WorkspaceApi } from '../worker/client';
import {
  EVALUATION_CANCELLED,
  PAGE_EVALUATION_PRESET,
  type EvaluationProgressEvent,
  type EvaluationStrategy,
  type PageEvaluationRequest,
  type PendingEvaluation,
  type RetrainChoice,
} from '../worker/evaluation-protocol';
import { evaluationAdvice, type EvaluationAdvice } from '../worker/evaluation-advice';
import './workspace/results-workspace';
import { DEMO_NAMES } from './demo-names';
import { STRATEGIES_PLAINEST_FIRST } from '../core/strategy';

const STRATEGIES: readonly EvaluationStrategy[] = STRATEGIES_PLAINEST_FIRST;

const PRESET = PAGE_EVALUATION_PRESET;

const EP_NAMES: Readonly<Record<RetrainChoice, string>> = {
  auto: 'EP not chosen yet',
  webgpu: 'WebGPU EP',
  wasm: 'wasm EP',
};

const retrainChoice = (value: FormDataEntryValue | null): RetrainChoice =>
  value === 'webgpu' || value === 'wasm' ? value : 'auto';

type Phase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'running'; readonly progress: EvaluationProgressEvent | null }
  | { readonly kind: 'done'; readonly runId: string; readonly total: number; readonly resumed: number }
  | { readonly kind: 'stopped'; readonly message: string; readonly failed: boolean };

/**
 * "Evaluate the influence against retraining": start an evaluation of the demo model in the engine worker, follow it
 * retrain by retrain, cancel it (its finished retrains stay stored), resume one left by a cancel or a reload, and open
 * the finished run's Evaluation view. `?evalHold=<count>` makes a new evaluation wait after that many retrains.
 */
@customElement('evaluation-panel')
export class EvaluationPanel extends LitElement {
  @property({ attribute: false }) api: EvaluationApi | undefined;
  @property({ attribute: false }) workspace: WorkspaceApi | undefined;
  @state() private phase: Phase = { kind: 'idle' };
  @state() private pending: readonly PendingEvaluation[] = [];
  @state() private pendingProblem = '';
  /** Whether the size in the form can resolve the gaps it compares (src/eval/power.ts), updated as it is edited. */
  @state() private advice: EvaluationAdvice = evaluationAdvice({
    queries: PRESET.queries,
    subsets: PRESET.subsets,
    seeds: PRESET.seedsPerSubset,
  });
  private readonly hold = new URLSearchParams(location.search).get('evalHold');

  static override styles = css`
    :host { display: block; margin: 1.5rem 0; border-top: 1px solid #d8dce3; padding-top: 0.5rem; color: #1f2430; }
    h2 { font-size: 1.15rem; margin: 0.3rem 0; }
    .note { color: #4a5263; font-size: 0.9rem; margin: 0.3rem 0; }
    form { display: flex; flex-wrap: wrap; gap: 0.6rem 1.2rem; align-items: end; }
    label { display: flex; flex-direction: column; font-size: 0.85rem; gap: 0.15rem; }
    fieldset { border: 1px solid #d8dce3; border-radius: 4px; display: flex; gap: 0.8rem; font-size: 0.85rem; }
    fieldset label { flex-direction: row; align-items: center; gap: 0.3rem; }
    input[type='number'] { width: 6rem; }
    input, select, button { font: inherit; font-size: 0.9rem; }
    :focus-visible { outline: 3px solid #1d4ed8; outline-offset: 1px; }
    progress { width: 20rem; }
    .problem { color: #a4161a; }
    .warning { color: #7a4b00; background: #fff6e0; border-left: 3px solid #d97706; padding: 0.3rem 0.5rem; font-size: 0.9rem; }
  `;

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('api') && this.api) void this.refresh();
  }

  private async refresh(): Promise<void> {
    try {
      this.pending = await this.api!.pending();
      this.pendingProblem = '';
    } catch (error) {
      this.pendingProblem = `Could not list unfinished evaluations: ${(error as Error).message}`;
    }
  }

  private request(form: HTMLFormElement): PageEvaluationRequest {
    const data = new FormData(form);
    const number = (name: string) => Number(data.get(name));
    return {
      variant: data.get('variant') === 'demo' ? 'demo' : 'micro',
      limits: { train: number('train'), queries: number('queries') },
      subsets: number('subsets'),
      fraction: number('fraction'),
      seedsPerSubset: number('seeds'),
      looPerQuery: number('loo'),
      seed: 0,
      strategies: STRATEGIES.filter((s) => data.get(`strategy-${s}`) === 'on'),
      steps: number('steps'),
      retrainOn: retrainChoice(data.get('retrain-on')),
      ...(this.hold !== null ? { holdAfterRetrains: Number(this.hold) } : {}),
    };
  }

  private async run(start: (onProgress: (e: EvaluationProgressEvent) => void) => Promise<string>): Promise<void> {
    this.phase = { kind: 'running', progress: null };
    let last: EvaluationProgressEvent | null = null;
    const onProgress = (progress: EvaluationProgressEvent) => {
      if (progress.total > 0) last = progress;
      if (this.phase.kind === 'running') this.phase = { kind: 'running', progress };
    };
    try {
      const runId = await start(onProgress);
      // The finished run opens at its Evaluation view.
      history.replaceState(history.state, '', `${location.pathname}${location.search}#view=evaluation`);
      const { total, resumed } = (last as EvaluationProgressEvent | null) ?? { total: 0, resumed: 0 };
      this.phase = { kind: 'done', runId, total, resumed };
    } catch (error) {
      const { name, message } = error as Error;
      this.phase = { kind: 'stopped', message, failed: name !== EVALUATION_CANCELLED };
    }
    await this.refresh();
  }

  private onInput(form: HTMLFormElement): void {
    const data = new FormData(form);
    this.advice = evaluationAdvice({
      queries: Number(data.get('queries')),
      subsets: Number(data.get('subsets')),
      seeds: Number(data.get('seeds')),
    });
  }

  /** The preset that can: the advice's M and seeds in the form (the other fields stay as they are). */
  private applyPreset(): void {
    const form = this.renderRoot.querySelector<HTMLFormElement>('form[data-eval-form]');
    if (!form || this.advice.subsetsNeeded === null) return;
    const set = (name: string, value: number) => {
      const input = form.elements.namedItem(name) as HTMLInputElement | null;
      if (input) input.value = String(value);
    };
    set('subsets', this.advice.subsetsNeeded);
    set('seeds', Math.max(Number(new FormData(form).get('seeds')), 2));
    this.onInput(form);
  }

  private renderAdvice() {
    const a = this.advice;
    return html`<p class=${a.resolves ? 'note' : 'warning'} role="status" data-eval-advice=${a.resolves ? 'resolves' : 'unresolved'}>
      ${a.resolves ? '' : html`<strong>Too small to compare strategies.</strong> `}${a.text}
      ${
        !a.resolves && a.subsetsNeeded !== null
          ? html`<button type="button" data-eval-preset @click=${() => this.applyPreset()}>Use that size</button>`
          : ''
      }</p>`;
  }

  private onSubmit(event: SubmitEvent): void {
    event.preventDefault();
    const request = this.request(event.target as HTMLFormElement);
    void this.run((onProgress) => this.api!.start(request, onProgress));
  }

  override render() {
    const running = this.phase.kind === 'running';
    return html`
      <h2>Evaluate the influence against retraining</h2>
      <p class="note">Trains the demo family's model on the training examples, attributes it with each strategy, then
        retrains it on random subsets (and without single examples) to measure how well each strategy's influence
        predicted the change: the linear datamodeling score. Every retrain is saved in this browser as it finishes; a
        cancelled or reloaded evaluation resumes where it stopped.</p>
      <form data-eval-form @submit=${(e: SubmitEvent) => this.onSubmit(e)}
        @input=${(e: Event) => this.onInput(e.currentTarget as HTMLFormElement)}>
        <label>Demo<select name="variant"><option value="micro" selected>${DEMO_NAMES.micro}</option>
          <option value="demo">${DEMO_NAMES.demo}</option></select></label>
        ${this.numberField('train', 'Training examples', PRESET.train, 4)}
        ${this.numberField('queries', 'Queries', PRESET.queries, 1)}
        ${this.numberField('subsets', 'Subsets M', PRESET.subsets, 2)}
        <label>Fraction α<input name="fraction" type="number" min="0.05" max="0.95" step="0.05"
          value=${PRESET.fraction} required /></label>
        ${this.numberField('seeds', 'Seeds per subset R', PRESET.seedsPerSubset, 1)}
        ${this.numberField('loo', 'Leave-one-out k', PRESET.looPerQuery, 0)}
        ${this.numberField('steps', 'Training steps', PRESET.steps, 1)}
        <label>Retrain on<select name="retrain-on" data-eval-ep>
          <option value="auto" selected>auto (WebGPU EP on a hardware GPU)</option>
          <option value="webgpu">onnxruntime WebGPU EP</option>
          <option value="wasm">onnxruntime wasm EP (CPU)</option></select></label>
        <fieldset><legend>Strategies</legend>${STRATEGIES.map(
          (s) => html`<label><input type="checkbox" name=${`strategy-${s}`} checked />${s}</label>`,
        )}</fieldset>
        <button type="submit" data-eval-start ?disabled=${running}>Evaluate</button>
        ${
          running
            ? html`<button type="button" data-eval-cancel @click=${() => void this.api!.cancel()}>Cancel</button>`
            : ''
        }
      </form>
      ${this.renderAdvice()} ${this.renderPending(running)} ${this.renderPhase()}
    `;
  }

  private numberField(name: string, label: string, value: number, min: number) {
    return html`<label>${label}<input name=${name} type="number" min=${min} step="1" value=${value} required /></label>`;
  }

  private renderPending(running: boolean) {
    if (this.pendingProblem) return html`<p class="problem" data-eval-pending-problem>${this.pendingProblem}</p>`;
    if (this.pending.length === 0) return '';
    return html`<p class="note" id="pending-label">Unfinished evaluations (cancelled, or stopped by a reload):</p>
      <ul data-eval-pending aria-labelledby="pending-label">${this.pending.map(
        (p) => html`<li>${p.name} (${DEMO_NAMES[p.request.variant]}, M = ${p.request.subsets}, ${p.request.steps} steps,
        ${p.request.strategies.join(', ')}, ${EP_NAMES[p.request.retrainOn ?? 'wasm']}):
        ${p.retrainsSaved} retrains saved
        ${
          running
            ? ''
            : html`<button data-eval-resume=${p.runId}
              @click=${() => void this.run((onProgress) => this.api!.resume(p.runId, onProgress))}>Resume</button>`
        }
      </li>`,
      )}</ul>`;
  }

  private renderPhase() {
    const phase = this.phase;
    switch (phase.kind) {
      case 'idle':
        return '';
      case 'running': {
        const p = phase.progress;
        return html`<p class="note" role="status" data-eval-progress=${p ? `${p.done}/${p.total}` : ''}
          data-eval-resumed=${p?.resumed ?? 0}>
          ${p && p.total > 0 ? html`<progress max=${p.total} value=${p.done}></progress>` : ''}
          ${p ? p.message : 'starting…'}</p>`;
      }
      case 'stopped':
        return html`<p class=${phase.failed ? 'problem' : 'note'} role="status" data-eval-stopped>${phase.message}</p>`;
      case 'done':
        return html`<p class="note" role="status" data-eval-done=${phase.runId} data-eval-total=${phase.total}
            data-eval-resumed=${phase.resumed}>Done: ${phase.total} retrains, ${phase.resumed} of them found stored
            in this browser. The evaluation is stored with the run and shown below (export it as an .iwb bundle from
            the stored runs list).</p>
          <results-workspace .api=${this.workspace} run-id=${phase.runId}></results-workspace>`;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'evaluation-panel': EvaluationPanel;
  }
}
