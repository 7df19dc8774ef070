import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { readPickedText } from '../worker/picked-files';
import type { ModelLayers } from '../worker/model-preview';
import './model-layers-view';
import type { Estimator } from './run-estimate';
import './run-estimate';
import { DEMO_NAMES, DEMO_ORDER } from './demo-names';
import {
  configFromOptions,
  DEFAULT_RUN_CONFIG,
  RUN_OPTIONS,
  type AttributionSource,
  type DemoVariant,
  type OptionInput,
  type PageRequest,
  type PickedModelInfo,
  type PickedSource,
  type RunConfig,
  type RunOptionName,
} from '../worker/protocol';

const defaults = DEFAULT_RUN_CONFIG;

/**
 * The Options section's controls, in the order shown. Each control — its label, choices, placeholder, default, and the
 * parsing and checks of its value — comes from the options table (app/options.ts), as `iwb attribute`'s flags do.
 */
const OPTION_FIELDS = [
  'damping',
  'fisher',
  'measurement',
  'measure',
  'track',
  'per-token',
  'limit-train',
  'limit-queries',
  'stratified',
  'batch-size',
  'query-batch',
  'query-rank',
  'seed',
  'refine-eigen',
] as const satisfies readonly RunOptionName[];

/** Every option the page offers: the two in the top row and the Options section's. */
const PAGE_OPTIONS: readonly RunOptionName[] = ['backend', 'strategy', ...OPTION_FIELDS];

/** The worker's handling of a picked model (engine.worker.ts pickModel / pickedLayers). */
export interface PickedModelApi {
  /**
   * Hands the files (handles, not bytes) to the worker, which reads and parses them and keeps the model; with
   * `paths` (a picked folder's relative paths) the worker chooses the folder's variant (or reads `variant`, by name)
   * and its tokenizer.
   */
  pick(files: File[], paths?: string[], variant?: string): Promise<PickedModelInfo>;
  layers(token: string, trackedLayers: string | null): Promise<ModelLayers>;
}

/**
 * What to attribute and how: the built-in demo or the user's model, tokenizer and JSONL files; backend; strategy;
 * and under "Options" every other field of the run configuration `iwb attribute` takes as a flag, with the same
 * defaults (app/config.ts). Fires `start-attribution` (detail: PageRequest) and `cancel-attribution`. A picked model
 * goes to the worker once (`models.pick`), which parses it there and keeps it: the layer list and every estimate and
 * run name it by its token, so the page's main thread neither parses nor re-sends its bytes.
 */
@customElement('run-controls')
export class RunControls extends LitElement {
  @property({ type: Boolean }) running = false;
  /**
   * Which built-in demo the demo choice runs: 'demo', 'after' (the after-answer variant, docs/data.md) or 'micro'
   * (an untrained tiny model: a smoke test in seconds), chosen here or by the page's ?demo=after / ?demo=micro.
   */
  @property() demoVariant: DemoVariant = 'demo';
  /** Computes the memory plan and time estimate of the settings shown (the worker's); none: no estimate. */
  @property({ attribute: false }) estimator: Estimator | null = null;
  /** Reads and parses picked models in the worker; none: a picked model cannot be used. */
  @property({ attribute: false }) models: PickedModelApi | null = null;
  @state() private useDemo = true;
  /** The settings the estimate is for: rebuilt (debounced) whenever a setting changes. */
  @state() private estimateRequest: PageRequest | null = null;
  private settingsTimer: ReturnType<typeof setTimeout> | undefined;
  @state() private problem = '';
  @state() private layers: ModelLayers | null = null;
  @state() private layersProblem = '';
  /** What the picked factors folder holds, as the page can tell without reading it (the worker reads it). */
  @state() private factorsNote = '';
  /** The last pick in the worker: its info, or why it failed (the start button says it); null: nothing picked. */
  private picking: Promise<PickedModelInfo> | null = null;
  private picked: PickedModelInfo | null = null;
  @query('#model') private modelInput!: HTMLInputElement;
  @query('#model-dir') private folderInput!: HTMLInputElement;
  @query('#tokenizer') private tokenizerInput!: HTMLInputElement;
  @query('#train') private trainInput!: HTMLInputElement;
  @query('#queries') private queriesInput!: HTMLInputElement;
  @query('#options') private options!: HTMLElement;

  static override styles = css`
    :host { display: block; margin: 1rem 0; }
    fieldset { border: 1px solid #d8dce3; border-radius: 6px; margin: 0 0 0.5rem; }
    .files { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 0.6rem; margin-top: 0.4rem; }
    .row { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
    .problem { color: #a4161a; }
    .picker { display: flex; flex-direction: column; gap: 0.2rem; }
    .picker .note { font-size: 0.85rem; color: #444; }
    details { margin: 0.5rem 0; }
    .options { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 0.6rem; margin-top: 0.4rem; }
    .options { justify-items: start; align-items: center; }
    .options input[type='text'], .options input[type='number'], .options select { width: 18rem; }
    button { font-size: 1rem; padding: 0.3rem 1rem; }
  `;

  override render() {
    return html`
      <fieldset ?disabled=${this.running}>
        <legend>Model and data</legend>
        <label><input type="radio" name="source" data-source="demo" .checked=${this.useDemo} @change=${() => (this.useDemo = true)} /> Built-in demo</label>
        <label><input type="radio" name="source" data-source="files" .checked=${!this.useDemo} @change=${() => (this.useDemo = false)} /> My files</label>
        ${
          this.useDemo
            ? this.renderDemoChoice()
            : html`<div class="files" data-model-drop @dragover=${(e: DragEvent) => e.preventDefault()} @drop=${this.modelDropped}>
              <label for="model">Model (.onnx, with its .onnx.data if it has one: pick or drop both)</label>
              <input id="model" type="file" multiple accept=".onnx,.data,.bin" @change=${() => this.modelPicked()} />
              <label for="model-dir">or a model folder (onnx/model*.onnx, tokenizer.json, as downloaded)</label>
              <span class="picker"><input id="model-dir" type="file" webkitdirectory @change=${this.folderPicked} />
                <span class="note" data-folder-note>${this.picked?.note ?? ''}</span></span>
              ${this.renderVariantChoice()}
              <label for="tokenizer">Tokenizer (tokenizer.json)</label><input id="tokenizer" type="file" accept=".json" />
              <label for="train">Training data (.jsonl)</label><input id="train" type="file" accept=".jsonl,.json" />
              <label for="queries">Queries (.jsonl)</label><input id="queries" type="file" accept=".jsonl,.json" />
              <label for="factors-dir">Factors folder (optional: kronfluence's, or <code>iwb --kronfluence-out</code>'s)</label>
              <span class="picker"><input id="factors-dir" type="file" webkitdirectory @change=${this.factorsPicked} />
                <span class="note" data-factors-note>${this.factorsNote}</span></span>
            </div>`
        }
      </fieldset>
      <div class="row">
        <span>${this.control('backend')}</span>
        <span>${this.control('strategy')}</span>
        ${this.renderButton()}
        <span class="problem" data-problem>${this.problem}</span>
      </div>
      ${this.renderConfigOptions()}
      <run-estimate .estimator=${this.estimator} .request=${this.estimateRequest}></run-estimate>
    `;
  }

  protected override firstUpdated(): void {
    for (const type of ['change', 'input']) this.renderRoot.addEventListener(type, () => this.settingsChanged());
    this.settingsChanged();
  }

  protected override updated(changed: Map<string, unknown>): void {
    if (changed.has('useDemo') || changed.has('demoVariant')) this.settingsChanged();
  }

  /** The request the settings make now, for the estimate; invalid or incomplete settings keep the last one. */
  private settingsChanged(): void {
    clearTimeout(this.settingsTimer);
    this.settingsTimer = setTimeout(async () => {
      if (this.running || !this.estimator) return;
      try {
        const config = this.readConfig();
        const complete =
          this.useDemo || (this.picking !== null && [this.trainInput, this.queriesInput].every((i) => i?.files?.[0]));
        if (!complete) return;
        const source: AttributionSource | PickedSource = this.useDemo
          ? { kind: 'demo', variant: this.demoVariant }
          : await this.readFiles();
        this.estimateRequest = { source, config };
      } catch {
        // The start button reports bad settings; the estimate waits for good ones.
      }
    }, 300);
  }

  private get factorsInput(): HTMLInputElement | null {
    return this.renderRoot.querySelector<HTMLInputElement>('#factors-dir');
  }

  /** A factors folder: the run scores with its factors instead of fitting (the strategy must be the folder's). */
  private readonly factorsPicked = (): void => {
    const files = [...(this.factorsInput?.files ?? [])];
    const strategies = [
      ...new Set(files.flatMap((f) => /(?:^|\/)factors_(\w+)\//.exec(f.webkitRelativePath)?.[1] ?? [])),
    ];
    this.factorsNote =
      files.length === 0
        ? ''
        : `${files.length} files${strategies.length ? ` (factors_${strategies.join(', factors_')})` : ''}: the run ` +
          'scores with these factors instead of fitting; the strategy must match';
  };

  private renderDemoChoice() {
    const pick = (event: Event) => (this.demoVariant = (event.target as HTMLSelectElement).value as DemoVariant);
    return html`<div class="files"><label for="demo-variant">Demo data</label>
      <select id="demo-variant" @change=${pick}>
        ${DEMO_ORDER.map((v) => html`<option value=${v} ?selected=${this.demoVariant === v}>${DEMO_NAMES[v]}</option>`)}
      </select></div>`;
  }

  private renderConfigOptions() {
    return html`
      <details>
        <summary>Options</summary>
        <fieldset id="options" class="options" ?disabled=${this.running}>
          ${OPTION_FIELDS.map((name) =>
            name === 'track'
              ? html`${this.control(name)}<span>Layers</span>
                  <model-layers-view .summary=${this.layers} problem=${this.layersProblem}></model-layers-view>`
              : this.control(name),
          )}
        </fieldset>
      </details>
    `;
  }

  /** An option's label and control, as the options table describes it; its id is the option's name. */
  private control(name: RunOptionName) {
    const spec = RUN_OPTIONS[name];
    const page = spec.page!;
    const label = html`<label for=${name}>${page.label}</label>`;
    switch (page.control) {
      case 'select':
        return html`${label}<select id=${name} ?disabled=${this.running}>
          ${(spec.choices ?? []).map(
            (value) =>
              html`<option value=${value} ?selected=${value === spec.defaultText}>${page.choiceText?.[value] ?? value}</option>`,
          )}
        </select>`;
      case 'checkbox':
        return html`${label}<input id=${name} type="checkbox" ?checked=${spec.defaultText === 'true'} />`;
      case 'number':
        return html`${label}<input id=${name} type="number" min=${page.min ?? 0} step="1" placeholder=${page.placeholder ?? ''} />`;
      case 'text':
        return html`${label}<input id=${name} type="text" placeholder=${page.placeholder ?? ''}
          @input=${name === 'track' ? this.updateLayers : null} />`;
    }
  }

  private renderButton() {
    return html`
        ${
          this.running
            ? html`<button data-action="cancel" @click=${this.cancel}>Cancel</button>`
            : html`<button data-action="start" @click=${this.start}>Attribute</button>`
        }
    `;
  }

  private async start(): Promise<void> {
    this.problem = '';
    let source: AttributionSource | PickedSource;
    let config: RunConfig;
    try {
      config = this.readConfig();
      source = this.useDemo ? { kind: 'demo', variant: this.demoVariant } : await this.readFiles();
    } catch (error) {
      this.problem = (error as Error).message;
      return;
    }
    const factorFiles = this.useDemo ? [] : [...(this.factorsInput?.files ?? [])];
    const request: PageRequest = { source, config, ...(factorFiles.length ? { factorFiles } : {}) };
    this.dispatchEvent(
      new CustomEvent<PageRequest>('start-attribution', { detail: request, bubbles: true, composed: true }),
    );
  }

  /**
   * The run configuration the controls show, through the options table's parsers (the CLI's): an empty field keeps
   * the default; a bad value throws one error naming the control and the grammar. The worker checks the rest.
   */
  private readConfig(): RunConfig {
    const input: Record<string, string | boolean> = {};
    for (const name of PAGE_OPTIONS) {
      const control = this.renderRoot.querySelector<HTMLInputElement | HTMLSelectElement>(`#${name}`);
      if (!control) continue;
      if (control instanceof HTMLInputElement && control.type === 'checkbox') input[name] = control.checked;
      else if (control.value.trim() !== '') input[name] = control.value.trim();
    }
    return configFromOptions(input as OptionInput, 'label');
  }

  /** Model files dropped on the files box: they become the model input's files, as if picked together. */
  private async modelDropped(event: DragEvent): Promise<void> {
    event.preventDefault();
    const dropped = [...(event.dataTransfer?.files ?? [])].filter((f) => /\.(onnx|data|bin)$/i.test(f.name));
    if (dropped.length === 0) return;
    const transfer = new DataTransfer();
    for (const file of dropped) transfer.items.add(file);
    this.modelInput.files = transfer.files;
    await this.modelPicked();
  }

  /** A model folder was picked: the worker chooses its variant (said beside the picker) and reads its tokenizer. */
  private async folderPicked(): Promise<void> {
    const files = [...(this.folderInput.files ?? [])];
    if (files.length > 0) this.modelInput.value = '';
    // A File from a directory picker carries its path below the picked folder's parent.
    const paths = files.map((f) => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name);
    await this.modelPicked(files, paths);
  }

  /**
   * A picked folder with several variants (float32, float16, quantized): the list, the chosen one selected (by default
   * the CLI's choice: float32 before float16 before quantized). Choosing another reads that file in the worker.
   */
  private renderVariantChoice() {
    const picked = this.picked;
    if (!picked?.variants || picked.variants.length < 2) return nothing;
    const choose = (event: Event) => {
      const files = [...(this.folderInput.files ?? [])];
      const paths = files.map((f) => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name);
      void this.modelPicked(files, paths, (event.target as HTMLSelectElement).value);
    };
    return html`<label for="model-variant">Variant of the folder's model</label>
      <select id="model-variant" @change=${choose}>
        ${picked.variants.map(
          (v) =>
            html`<option value=${v.name} ?selected=${v.name === picked.variant}>${v.name} — ${v.description}</option>`,
        )}
      </select>`;
  }

  /** A model was picked: the worker reads it (with its data files) and parses it; its layers go under Options. */
  private async modelPicked(folderFiles?: File[], paths?: string[], variant?: string): Promise<void> {
    this.picked = null;
    this.layers = null;
    this.layersProblem = '';
    if (!paths && this.folderInput) this.folderInput.value = '';
    const files = paths ? folderFiles! : [...(this.modelInput.files ?? [])];
    if (files.length === 0 || !this.models) {
      this.picking = null;
      return;
    }
    const picking = (this.picking = this.models.pick(files, paths, variant));
    try {
      const picked = await picking;
      if (picking !== this.picking) return; // another model was picked meanwhile
      this.picked = picked;
      this.requestUpdate();
    } catch (error) {
      if (picking === this.picking) this.layersProblem = (error as Error).message;
      return;
    }
    await this.updateLayers();
  }

  private async updateLayers(): Promise<void> {
    const picked = this.picked;
    if (!picked || !this.models) return;
    const track = this.options?.querySelector<HTMLInputElement>('#track')?.value.trim() ?? '';
    try {
      const layers = await this.models.layers(picked.token, track === '' ? defaults.trackedLayers : track);
      if (picked !== this.picked) return;
      this.layers = layers;
      this.layersProblem = '';
    } catch (error) {
      if (picked !== this.picked) return;
      this.layers = null;
      this.layersProblem = `tracked layers: ${(error as Error).message}`;
    }
  }

  private cancel(): void {
    this.dispatchEvent(new CustomEvent('cancel-attribution', { bubbles: true, composed: true }));
  }

  private async readFiles(): Promise<PickedSource> {
    const pick = (input: HTMLInputElement, what: string): File => {
      const file = input.files?.[0];
      if (!file) throw new Error(`choose the ${what} file`);
      return file;
    };
    if (!this.picking) throw new Error('choose the model (.onnx) file or a model folder');
    // The worker has the model (or says why it could not read it); only the data files go with the request.
    const model = await this.picking;
    const train = pick(this.trainInput, 'training data (.jsonl)');
    const queries = pick(this.queriesInput, 'queries (.jsonl)');
    const tokenizer = this.tokenizerInput.files?.[0] ?? null;
    return {
      kind: 'picked',
      model: model.token,
      tokenizer: tokenizer ? await readPickedText(tokenizer, 'tokenizer') : null,
      train: await readPickedText(train, 'jsonl'),
      queries: await readPickedText(queries, 'jsonl'),
      names: { tokenizer: tokenizer?.name ?? null, train: train.name, queries: queries.name },
    };
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'run-controls': RunControls;
  }
}
