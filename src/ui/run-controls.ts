import { LitElement, css, html } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { readPickedModel, readPickedText } from '../worker/picked-files';
import type { AttributionRequest, AttributionSource, BackendChoice, StrategyName } from '../worker/protocol';

/**
 * What to attribute and how: the built-in demo or the user's model, tokenizer and JSONL files; backend; strategy.
 * Fires `start-attribution` (detail: AttributionRequest) and `cancel-attribution`.
 */
@customElement('run-controls')
export class RunControls extends LitElement {
  @property({ type: Boolean }) running = false;
  /** Which built-in demo the demo choice runs ('micro': the tiny test version, from the page's ?demo=micro). */
  @property() demoVariant: 'demo' | 'micro' = 'demo';
  @state() private useDemo = true;
  @state() private problem = '';
  @query('#model') private modelInput!: HTMLInputElement;
  @query('#tokenizer') private tokenizerInput!: HTMLInputElement;
  @query('#train') private trainInput!: HTMLInputElement;
  @query('#queries') private queriesInput!: HTMLInputElement;
  @query('#backend') private backendSelect!: HTMLSelectElement;
  @query('#strategy') private strategySelect!: HTMLSelectElement;

  static override styles = css`
    :host { display: block; margin: 1rem 0; }
    fieldset { border: 1px solid #d8dce3; border-radius: 6px; margin: 0 0 0.5rem; }
    .files { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 0.6rem; margin-top: 0.4rem; }
    .row { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
    .problem { color: #a4161a; }
    button { font-size: 1rem; padding: 0.3rem 1rem; }
  `;

  override render() {
    return html`
      <fieldset ?disabled=${this.running}>
        <legend>Model and data</legend>
        <label><input type="radio" name="source" data-source="demo" .checked=${this.useDemo} @change=${() => (this.useDemo = true)} /> Built-in demo${this.demoVariant === 'micro' ? ' (micro)' : ''}</label>
        <label><input type="radio" name="source" data-source="files" .checked=${!this.useDemo} @change=${() => (this.useDemo = false)} /> My files</label>
        ${this.useDemo
          ? html``
          : html`<div class="files">
              <label for="model">Model (.onnx)</label><input id="model" type="file" accept=".onnx" />
              <label for="tokenizer">Tokenizer (tokenizer.json)</label><input id="tokenizer" type="file" accept=".json" />
              <label for="train">Training data (.jsonl)</label><input id="train" type="file" accept=".jsonl,.json" />
              <label for="queries">Queries (.jsonl)</label><input id="queries" type="file" accept=".jsonl,.json" />
            </div>`}
      </fieldset>
      <div class="row">
        <label>Backend
          <select id="backend" ?disabled=${this.running}>
            <option value="auto">automatic (WebGPU on a hardware GPU, else CPU)</option>
            <option value="webgpu">WebGPU</option>
            <option value="cpu">CPU (float64)</option>
          </select>
        </label>
        <label>Strategy
          <select id="strategy" ?disabled=${this.running}>
            <option value="ekfac">EK-FAC</option><option value="kfac">K-FAC</option>
            <option value="diagonal">diagonal</option><option value="identity">identity (gradient dot product)</option>
          </select>
        </label>
        ${this.running
          ? html`<button data-action="cancel" @click=${this.cancel}>Cancel</button>`
          : html`<button data-action="start" @click=${this.start}>Attribute</button>`}
        <span class="problem" data-problem>${this.problem}</span>
      </div>
    `;
  }

  private async start(): Promise<void> {
    this.problem = '';
    let source: AttributionSource;
    try {
      source = this.useDemo ? { kind: 'demo', variant: this.demoVariant } : await this.readFiles();
    } catch (error) {
      this.problem = (error as Error).message;
      return;
    }
    const request: AttributionRequest = {
      source,
      strategy: this.strategySelect.value as StrategyName,
      damping: null,
      backend: this.backendSelect.value as BackendChoice,
      track: null,
      perToken: false,
      limitTrain: null,
      limitQueries: null,
    };
    this.dispatchEvent(new CustomEvent<AttributionRequest>('start-attribution', { detail: request, bubbles: true, composed: true }));
  }

  private cancel(): void {
    this.dispatchEvent(new CustomEvent('cancel-attribution', { bubbles: true, composed: true }));
  }

  private async readFiles(): Promise<AttributionSource> {
    const pick = (input: HTMLInputElement, what: string): File => {
      const file = input.files?.[0];
      if (!file) throw new Error(`choose the ${what} file`);
      return file;
    };
    const model = pick(this.modelInput, 'model (.onnx)');
    const train = pick(this.trainInput, 'training data (.jsonl)');
    const queries = pick(this.queriesInput, 'queries (.jsonl)');
    const tokenizer = this.tokenizerInput.files?.[0] ?? null;
    return {
      kind: 'files',
      model: await readPickedModel(model),
      tokenizer: tokenizer ? await readPickedText(tokenizer, 'tokenizer') : null,
      train: await readPickedText(train, 'jsonl'),
      queries: await readPickedText(queries, 'jsonl'),
      names: { model: model.name, tokenizer: tokenizer?.name ?? null, train: train.name, queries: queries.name },
    };
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'run-controls': RunControls;
  }
}
