import { LitElement, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import {
  METHODS,
  queryRow,
  type LabInputs,
  type LabResult,
  type LmInputs,
  type LmResult,
  type Method,
} from '../../teach/results';
import { startLabWorker } from '../../worker/lab-client';
import { MODELS } from '../../teach/models';
import { predict, type Example } from '../../teach/network';
import { PRESETS } from '../../teach/presets';
import {
  defaultState,
  LAB_MODELS,
  labInputs,
  lmInputs,
  parseState,
  serializeState,
  type LabModel,
  type LabState,
} from '../../teach/state';
import { formatNumber } from './colour';
import type { PointMove } from './lab-plot';
import { METHOD_TITLES } from './lab-methods';
import './lab-inside';
import './lab-lm';
import './lab-methods';
import './lab-plot';

/** The value of the control an event came from. */
function valueOf(e: Event): string {
  return (e.target as HTMLInputElement | HTMLSelectElement).value;
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

type Request =
  { readonly kind: 'points'; readonly inputs: LabInputs } | { readonly kind: 'lm'; readonly inputs: LmInputs };
type Shown =
  { readonly kind: 'points'; readonly result: LabResult } | { readonly kind: 'lm'; readonly result: LmResult };

/** What changes the numbers (a new run) as opposed to what only changes the view. */
function computeKey(request: Request): string {
  return JSON.stringify(request);
}

function requestOf(state: LabState): Request {
  return state.model === 'lm' ? { kind: 'lm', inputs: lmInputs(state) } : { kind: 'points', inputs: labInputs(state) };
}

const MODEL_TITLES: Readonly<Record<LabModel, string>> = {
  linear: MODELS.linear.title,
  logistic: MODELS.logistic.title,
  mlp: MODELS.mlp.title,
  lm: 'Tiny LM (bigram, editable sentences)',
};

/**
 * The teaching lab page. Its state is the URL (src/teach/state.ts); every edit that changes the numbers starts a run
 * in the lab worker. `data-generation` counts finished runs and `data-status` says whether the shown numbers belong to
 * the current state ('ready') or a run is under way ('computing'): tests wait for a generation, never for a transient.
 */
@customElement('teach-app')
export class TeachApp extends LitElement {
  @state() private lab: LabState = defaultState();
  @state() private shown: Shown | null = null;
  @state() private error: string | null = null;
  @state() private lesson: string | null = null;
  private readonly worker = startLabWorker();
  private generation = 0;
  private requested = '';

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback() {
    super.connectedCallback();
    try {
      this.lab = parseState(location.search);
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.refresh();
  }

  private patch(patch: Partial<LabState>) {
    this.lab = { ...this.lab, ...patch };
    history.replaceState(null, '', serializeState(this.lab));
    this.refresh();
  }

  private refresh() {
    const request = requestOf(this.lab);
    const key = computeKey(request);
    if (key === this.requested) return;
    this.requested = key;
    this.dataset.status = 'computing';
    const run: Promise<Shown> =
      request.kind === 'lm'
        ? this.worker.runLm(request.inputs).then((result) => ({ kind: 'lm', result }))
        : this.worker.run(request.inputs).then((result) => ({ kind: 'points', result }));
    run.then(
      (shown) => {
        if (key !== this.requested) return; // a newer edit is on its way
        this.shown = shown;
        this.error = null;
        this.generation++;
        this.dataset.generation = String(this.generation);
        this.dataset.status = 'ready';
      },
      (error: Error) => {
        if (key !== this.requested) return;
        this.error = error.message;
        this.generation++;
        this.dataset.generation = String(this.generation);
        this.dataset.status = 'error';
      },
    );
  }

  private points(): readonly Example[] {
    return labInputs(this.lab).train;
  }

  private editPoints(edit: (points: Example[]) => void) {
    const points = [...this.points()];
    edit(points);
    this.lesson = null;
    this.patch({ points });
  }

  /** The shown result when it belongs to the current state. */
  private current(): Shown | null {
    const shown = this.shown;
    return shown && computeKey({ kind: shown.kind, inputs: shown.result.inputs } as Request) === this.requested
      ? shown
      : null;
  }

  private pointValues(): Float64Array | null {
    const shown = this.current();
    if (!shown || shown.kind !== 'points') return null;
    const r = shown.result;
    const n = r.inputs.train.length;
    if (this.lab.colour === 'self') return r.methods[this.lab.method === 'loo' ? 'exact' : this.lab.method].selfTau;
    if (this.lab.method === 'loo') return queryRow(r.loo, this.lab.query, n).map((v) => -v * n);
    return queryRow(r.methods[this.lab.method].tau, this.lab.query, n);
  }

  private controls() {
    const lab = this.lab;
    // Each select binds .value as well as its options' ?selected: once a user has picked an option by hand, the
    // browser no longer follows the `selected` attribute, so a preset that changes the state (say the model) would
    // leave the select showing the old choice. ?selected sets the first render (before the options exist).
    const l2 = lab.model === 'lm' ? defaultState('lm').damping : MODELS[lab.model].l2;
    const logDamping = Math.log10(lab.damping);
    return html`<div class="controls">
        <label
          >Model
          <select
            data-control="model"
            .value=${lab.model}
            @change=${(e: Event) => {
              this.lesson = null;
              this.lab = defaultState(valueOf(e) as LabModel);
              this.patch({});
            }}
          >
            ${LAB_MODELS.map((m) => html`<option value=${m} ?selected=${m === lab.model}>${MODEL_TITLES[m]}</option>`)}
          </select></label
        >
        <label
          >Data seed
          <input
            type="number"
            min="0"
            step="1"
            .value=${String(lab.seed)}
            data-control="seed"
            @change=${(e: Event) =>
              this.patch({ seed: Math.max(0, Math.floor(Number(valueOf(e))) || 0), points: null, query: 0 })}
        /></label>
        <label
          >Colour by
          <select data-control="method" .value=${lab.method} @change=${(e: Event) => this.patch({ method: valueOf(e) as Method | 'loo' })}>
            ${[...METHODS, 'loo' as const].map(
              (m) => html`<option value=${m} ?selected=${m === lab.method}>${METHOD_TITLES[m]}</option>`,
            )}
          </select></label
        >
        ${
          lab.model === 'lm'
            ? nothing
            : html` <label
                ><select
                  data-control="colour"
                  .value=${lab.colour}
                  @change=${(e: Event) => this.patch({ colour: valueOf(e) as 'query' | 'self' })}
                >
                  <option value="query" ?selected=${lab.colour === 'query'}>influence on the query</option>
                  <option value="self" ?selected=${lab.colour === 'self'}>self-influence</option>
                </select></label
              >`
        }
        <label class="damping"
          >Damping δ
          <input
            type="range"
            min="-6"
            max="0"
            step="0.1"
            .value=${String(logDamping)}
            data-control="damping"
            @change=${(e: Event) => this.patch({ damping: Number((10 ** Number(valueOf(e))).toPrecision(2)) })}
          />
          <output>${lab.damping.toExponential(1)}</output>
          <span class="hint"
            >${lab.damping === l2 ? '= training L2 (exact = true curvature)' : `training L2 = ${l2}`}</span
          ></label
        >
        <label
          >Fisher
          <select
            data-control="fisher"
            .value=${lab.fisher}
            @change=${(e: Event) => this.patch({ fisher: valueOf(e) as 'true' | 'empirical' })}
          >
            <option value="true" ?selected=${lab.fisher === 'true'}>true (model's labels)</option>
            <option value="empirical" ?selected=${lab.fisher === 'empirical'}>empirical (data's labels)</option>
          </select></label
        >
        ${
          lab.model === 'lm'
            ? nothing
            : html` <label
                >Leave-one-out
                <select
                  data-control="loo"
                  .value=${lab.loo}
                  @change=${(e: Event) => this.patch({ loo: valueOf(e) as 'warm' | 'scratch' })}
                >
                  <option value="warm" ?selected=${lab.loo === 'warm'}>retrain from θ*</option>
                  <option value="scratch" ?selected=${lab.loo === 'scratch'}>retrain from scratch</option>
                </select></label
              >`
        }
      </div>
      <div class="presets">
        <span>Failure cases:</span>
        ${PRESETS.map(
          (p) =>
            html`<button
              data-preset=${p.id}
              @click=${() => {
                this.lesson = p.lesson;
                this.lab = p.state();
                this.patch({});
              }}
            >
              ${p.title}
            </button>`,
        )}
        ${
          lab.model === 'lm'
            ? html`<button data-action="reset-sentences" @click=${() => this.patch({ sentences: null })}>
                Reset sentences
              </button>`
            : html`<button @click=${() => this.patch({ points: null })}>Reset points</button>`
        }
        <a href=${serializeState(lab)} class="permalink" title="This state as a link">Link to this state</a>
      </div>
      ${this.lesson ? html`<p class="lesson">${this.lesson}</p>` : nothing}`;
  }

  private ranking() {
    const shown = this.current();
    if (!shown || shown.kind !== 'points') return nothing;
    const r = shown.result;
    const method = this.lab.method === 'loo' ? 'exact' : this.lab.method;
    const self = r.methods[method].selfTau;
    const order = Array.from(self, (_, i) => i)
      .sort((a, b) => self[b] - self[a])
      .slice(0, 6);
    const spec = MODELS[r.inputs.model].spec;
    return html`<div class="ranking">
      <h3>Highest self-influence (${METHOD_TITLES[method]})</h3>
      <ol>
        ${order.map((i) => {
          const p = r.inputs.train[i];
          const fit = predict(spec, r.theta, p.x);
          const wrong = r.inputs.model !== 'linear' && (fit > 0.5 ? 1 : 0) !== p.y;
          return html`<li data-rank-index=${i}>
            point ${i} · ${p.x.map((v) => v.toFixed(2)).join(', ')}
            ${r.inputs.model === 'linear' ? `→ ${p.y.toFixed(2)}` : `class ${p.y}`} · ${formatNumber(self[i])}
            ${wrong ? html`<span class="flag">misclassified</span>` : nothing}
          </li>`;
        })}
      </ol>
    </div>`;
  }

  private timing(shown: Shown | null, trainCount: number) {
    if (!shown) return 'Retraining…';
    const t = shown.result.timings;
    const fit = duration(t.train + t.engine + t.exact);
    return `${trainCount} ${shown.kind === 'lm' ? 'sentences' : 'points'} · trained and scored in ${fit},
      leave-one-out in ${duration(t.loo)}`;
  }

  private pointsView(current: Shown | null) {
    const lab = this.lab;
    if (lab.model === 'lm') return nothing;
    const definition = MODELS[lab.model];
    const r = current?.kind === 'points' ? current.result : null;
    const inputs = labInputs(lab);
    return html`<lab-plot
        .model=${lab.model}
        .window=${definition.window}
        .points=${inputs.train}
        .tests=${inputs.test}
        .query=${lab.query}
        .values=${this.pointValues()}
        .valueLabel=${lab.colour === 'self' ? 'self-influence' : 'influence on the query'}
        .predict=${r ? (x: readonly number[]) => predict(MODELS[r.inputs.model].spec, r.theta, x) : null}
        @select-query=${(e: CustomEvent<number>) => this.patch({ query: e.detail })}
        @move-point=${(e: CustomEvent<PointMove>) =>
          this.editPoints((pts) => (pts[e.detail.index] = { x: e.detail.x, y: e.detail.y }))}
        @add-point=${(e: CustomEvent<Example>) => this.editPoints((pts) => pts.push(e.detail))}
        @delete-point=${(e: CustomEvent<number>) => this.editPoints((pts) => pts.length > 2 && pts.splice(e.detail, 1))}
      ></lab-plot>
      <p class="status" aria-live="polite">${this.timing(r ? current : null, inputs.train.length)}</p>
      ${this.ranking()}`;
  }

  private lmView(current: Shown | null) {
    const r = current?.kind === 'lm' ? current.result : null;
    return html`<lab-lm
        .result=${r}
        .query=${this.lab.query}
        .method=${this.lab.method}
        .sentences=${lmInputs(this.lab).train}
        @select-query=${(e: CustomEvent<number>) => this.patch({ query: e.detail })}
        @edit-sentences=${(e: CustomEvent<string[]>) => {
          this.lesson = null;
          this.patch({ sentences: e.detail });
        }}
      ></lab-lm>
      <p class="status" aria-live="polite">${this.timing(r ? current : null, r?.trainCount ?? 0)}</p>`;
  }

  override render() {
    const lab = this.lab;
    const current = this.current();
    const scored = current ? current.result : null;
    return html` <header>
        <h1>Influence Workbench · Teaching lab</h1>
        <a href="./">← the workbench</a>
      </header>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing} ${this.controls()}
      <main class="lab">
        <section class="plot-column">${lab.model === 'lm' ? this.lmView(current) : this.pointsView(current)}</section>
        <section class="methods-column">
          <h2>Methods against leave-one-out retraining</h2>
          <p class="hint">
            Each dot is a training ${lab.model === 'lm' ? 'sentence' : 'point'}: x = the method's prediction of how the
            query's log-likelihood changes when it is removed (−τ/N), y = the change after actually retraining without
            it.
          </p>
          <lab-methods .result=${scored} .query=${lab.query} .selected=${lab.method}></lab-methods>
        </section>
      </main>
      <section class="inside">
        <h2>Inside EK-FAC, step by step</h2>
        <p class="hint">
          From the engine's own EK-FAC run on this model. Heatmaps: orange negative, white zero, purple positive, each
          scaled to its own largest |value|; hover a cell for its value.
        </p>
        <lab-inside .result=${scored} .query=${lab.query}></lab-inside>
      </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'teach-app': TeachApp;
  }
}
