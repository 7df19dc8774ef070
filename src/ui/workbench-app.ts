import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { startEngineWorker } from '../worker/client';
import type { GpuProbe } from '../worker/gpu-probe';
import {
  CANCELLED_ERROR_NAME,
  type PageRequest,
  type AttributionSummary,
  type DemoVariant,
  type InfluenceTarget,
  type Normalization,
  type ProgressEvent,
  type RunEstimate,
} from '../worker/protocol';
import './gpu-status';
import './full-demo-offer';
import './run-controls';
import type { PickedModelApi } from './run-controls';
import { formatSeconds } from './attribution-progress';
import './influence-results';
import type { TopInfluenceQuery } from './influence-results';
import './run-library';
import './workspace/results-workspace';
import './evaluation-panel';
import './ask-question';
import type { AskDetail } from './ask-question';
import './response-comparison';

/** The engine's stages, as its progress names them (the worker's own steps, such as loading data, are not). */
const ENGINE_STAGES = new Set(['covariance', 'eigen', 'lambda', 'scores', 'self']);

type RunState =
  | { readonly phase: 'idle' }
  | { readonly phase: 'running'; readonly progress: ProgressEvent | undefined }
  | {
      readonly phase: 'done';
      readonly summary: AttributionSummary;
      readonly stagesRun: readonly string[];
      /** Wall time from the click to the stored results, in seconds (what the user waited). */
      readonly wallSeconds: number;
      /** "Compare two responses": the run's two queries are compared per training example. */
      readonly compare?: boolean;
    }
  | { readonly phase: 'cancelled' }
  | { readonly phase: 'failed'; readonly message: string };

@customElement('workbench-app')
export class WorkbenchApp extends LitElement {
  @state() private probe: GpuProbe | undefined;
  @state() private run: RunState = { phase: 'idle' };
  /** Bumped when a run ends, so the stored-runs list reloads. */
  @state() private storedGeneration = 0;
  /** The estimate of the settings shown (run-estimate's), for the progress of a run started with them. */
  private estimate: RunEstimate | null = null;
  /** The estimate and click time of the run in progress. */
  @state() private runEstimate: RunEstimate | null = null;
  @state() private startedAt = 0;
  private readonly engine = startEngineWorker();
  /** ?demo=micro runs the tiny demo (tests; a first look in seconds); ?demo=after the after-answer variant. */
  private readonly demoVariant = demoVariantOf(new URLSearchParams(location.search).get('demo'));
  /**
   * ?hold=<stage>: new runs wait after their first checkpoint of that stage (PageRequest.holdAfterCheckpoint).
   */
  private readonly holdStage = new URLSearchParams(location.search).get('hold');
  private readonly estimator = (request: PageRequest) => this.engine.attribution.estimate(request);
  /** The model picked in the controls, read and parsed by the worker (once per pick). */
  private readonly models: PickedModelApi = {
    pick: (files, paths, variant) => this.engine.models.pick(files, paths, variant),
    layers: (token, trackedLayers) => this.engine.models.layers(token, trackedLayers),
  };

  static override styles = css`
    :host { display: block; max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem; }
    h1 { font-size: 1.4rem; margin: 0 0 0.25rem; }
    p.lead { margin: 0 0 1rem; color: #4a5263; }
    .status { margin: 0.5rem 0; }
    .failed { color: #a4161a; }
    .meta { color: #4a5263; font-size: 0.9rem; }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    this.engine.probeGpu().then(
      (probe) => (this.probe = probe),
      (error: Error) => (this.probe = { available: false, reason: `the engine worker failed: ${error.message}` }),
    );
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.engine.terminate();
  }

  /**
   * A new run, a stored one resumed from its last checkpoint (`resumeId`), or new queries asked against a finished
   * run's factors (`ask`).
   */
  private async start(request: PageRequest | null, resumeId?: string, ask?: AskDetail): Promise<void> {
    this.startedAt = performance.now();
    // A resumed run (or one asked against stored factors) starts mid-way: the estimate of the settings shown is not
    // its.
    this.runEstimate = request && !ask ? this.estimate : null;
    this.run = { phase: 'running', progress: undefined };
    this.storedGeneration++;
    // The engine stages this session ran, in order (a resumed run starts at its checkpoint's stage).
    const stagesRun: string[] = [];
    const onProgress = (progress: ProgressEvent) => {
      if (ENGINE_STAGES.has(progress.stage) && stagesRun.at(-1) !== progress.stage) stagesRun.push(progress.stage);
      if (this.run.phase === 'running') this.run = { phase: 'running', progress };
    };
    if (request && this.holdStage) request = { ...request, holdAfterCheckpoint: this.holdStage };
    try {
      const summary = ask
        ? 'queries' in ask
          ? await this.engine.attribution.ask(ask.runId, ask.queries, onProgress)
          : 'spans' in ask
            ? await this.engine.attribution.askSpan(ask.runId, ask.queryId, ask.spans, onProgress)
            : await this.engine.attribution.askGenerated(ask.runId, ask.prompt, ask.maxNewTokens, onProgress)
        : request
          ? await this.engine.attribution.start(request, onProgress)
          : await this.engine.attribution.resume(resumeId!, onProgress);
      const wallSeconds = (performance.now() - this.startedAt) / 1000;
      const compare = ask !== undefined && 'compare' in ask && ask.compare === true;
      this.run = { phase: 'done', summary, stagesRun, wallSeconds, ...(compare ? { compare } : {}) };
    } catch (error) {
      const { name, message } = error as Error;
      this.run = name === CANCELLED_ERROR_NAME ? { phase: 'cancelled' } : { phase: 'failed', message };
    }
    this.storedGeneration++;
  }

  private readonly compareStored = (runId: string, k: number) => this.engine.workspace.compare(runId, 0, 1, k);

  /** A finished run's rankings: it is stored, so they come from the one ranking path by its run id. */
  private topOf: { readonly runId: string; readonly fetch: TopInfluenceQuery } | null = null;
  private fetchTop(runId: string): TopInfluenceQuery {
    if (this.topOf?.runId !== runId) {
      const fetch = (target: InfluenceTarget, k: number, normalization: Normalization) =>
        this.engine.runs.rank(runId, target, k, normalization);
      this.topOf = { runId, fetch };
    }
    return this.topOf.fetch;
  }

  override render() {
    const run = this.run;
    return html`
      <h1>Influence Workbench <a href="./teach.html" style="font-size: 0.9rem; font-weight: normal; margin-left: 1rem">Teaching lab →</a>
        <a href="./experiments.html" style="font-size: 0.9rem; font-weight: normal; margin-left: 1rem">Experiments →</a></h1>
      <p class="lead">Which training data made a language model good at math and code? EK-FAC influence functions, on your own GPU.</p>
      <full-demo-offer></full-demo-offer>
      <gpu-status .probe=${this.probe}></gpu-status>
      <run-controls
        .running=${run.phase === 'running'}
        .demoVariant=${this.demoVariant}
        .estimator=${this.estimator}
        .models=${this.models}
        @start-attribution=${(e: CustomEvent<PageRequest>) => void this.start(e.detail)}
        @cancel-attribution=${() => void this.engine.attribution.cancel()}
        @estimate-changed=${(e: CustomEvent<RunEstimate>) => (this.estimate = e.detail)}
      ></run-controls>
      ${this.renderRun(run)}
      <run-library
        .api=${this.engine.runs}
        .workspace=${this.engine.workspace}
        .generation=${this.storedGeneration}
        .busy=${run.phase === 'running'}
        @resume-run=${(e: CustomEvent<string>) => void this.start(null, e.detail)}
      ></run-library>
      <evaluation-panel .api=${this.engine.evaluation} .workspace=${this.engine.workspace}></evaluation-panel>
    `;
  }

  private renderRun(run: RunState) {
    switch (run.phase) {
      case 'idle':
        return html``;
      case 'running':
        return html`<attribution-progress .progress=${run.progress} .estimate=${this.runEstimate}
          .startedAt=${this.startedAt}></attribution-progress>`;
      case 'cancelled':
        return html`<p class="status" data-run="cancelled">Cancelled.</p>`;
      case 'failed':
        return html`<p class="status failed" data-run="failed">${run.message}</p>`;
      case 'done': {
        const s = run.summary;
        const engineSeconds = s.timings.reduce((sum, t) => sum + t.seconds, 0);
        const estimated = this.runEstimate ? ` (estimated ${formatSeconds(this.runEstimate.seconds)})` : '';
        return html`
          <p class="status meta" data-run="done" data-wall-seconds=${run.wallSeconds.toFixed(2)}>
            Done in ${formatSeconds(run.wallSeconds)} from the click${estimated}, of which the engine's stages took
            ${engineSeconds.toFixed(1)} s and loading and preparing the model the rest; on <span data-backend=${s.backend.kind}>${s.backend.description}</span> (${s.backend.reason});
            ${s.queries.length} queries × ${s.trainCount} training examples, strategy ${s.strategy}.
            ${s.peakGpuBytes === null ? '' : `Peak GPU memory held by the engine: ${(s.peakGpuBytes / 2 ** 20).toFixed(1)} MiB.`}
            ${s.subsample ?? ''}
            <span data-stages-run=${run.stagesRun.join(' ')}>Stages run: ${run.stagesRun.join(' → ')}.</span>
          </p>
          <influence-results .summary=${s} .fetchTop=${s.runId ? this.fetchTop(s.runId) : undefined}></influence-results>
          ${
            s.runId && run.compare
              ? html`<response-comparison .compare=${this.compareStored} run-id=${s.runId}></response-comparison>`
              : ''
          }
          ${
            s.runId
              ? html`<results-workspace .api=${this.engine.workspace} run-id=${s.runId}
                  @ask-span=${(e: CustomEvent<AskDetail>) => void this.start(null, undefined, e.detail)}></results-workspace>`
              : ''
          }
          ${
            s.runId
              ? html`<ask-question run-id=${s.runId}
                  @ask-another=${(e: CustomEvent<AskDetail>) => void this.start(null, undefined, e.detail)}></ask-question>`
              : ''
          }
        `;
      }
    }
  }
}

function demoVariantOf(value: string | null): DemoVariant {
  return value === 'micro' || value === 'after' ? value : 'demo';
}
