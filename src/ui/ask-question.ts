/**
 * "Ask another question": query rows typed or pasted as JSONL (one {"prompt", "response", "measure"?} per line, as in
 * a query file, docs/data.md) are attributed against the factors a finished run fitted — same model, training data and
 * settings, no refit. The component only collects the rows; the app starts the run (event `ask-another`, detail
 * {runId, queries}). Text is data: nothing here renders it as HTML.
 */
import { LitElement, css, html } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';

export type AskDetail =
  | { readonly runId: string; readonly queries: string; readonly compare?: boolean }
  | { readonly runId: string; readonly prompt: string; readonly maxNewTokens: number }
  | {
      readonly runId: string;
      readonly queryId: string;
      readonly spans: readonly { readonly start: number; readonly end: number }[];
    };

/**
 * The two rows of "Compare two responses" (ids "response A" and "response B"): one prompt, two responses, asked as
 * text rows so each is tokenized as the run's query files are.
 */
export function comparisonRows(prompt: string, a: string, b: string): string {
  return [
    JSON.stringify({ id: 'response A', prompt, response: a }),
    JSON.stringify({ id: 'response B', prompt, response: b }),
    '',
  ].join('\n');
}

@customElement('ask-question')
export class AskQuestion extends LitElement {
  @property({ attribute: 'run-id' }) runId = '';
  @property({ type: Boolean }) busy = false;
  @query('textarea[data-ask-queries]') private text!: HTMLTextAreaElement;
  @query('textarea[data-ask-prompt]') private promptText!: HTMLTextAreaElement;
  @query('input[data-ask-max-tokens]') private maxTokens!: HTMLInputElement;
  @query('textarea[data-compare-prompt]') private comparePrompt!: HTMLTextAreaElement;
  @query('textarea[data-compare-a]') private compareA!: HTMLTextAreaElement;
  @query('textarea[data-compare-b]') private compareB!: HTMLTextAreaElement;

  static override styles = css`
    :host { display: block; margin: 1rem 0; }
    textarea { width: 100%; min-height: 5rem; font-family: ui-monospace, monospace; font-size: 0.85rem; }
    .note { color: #4a5263; font-size: 0.9rem; }
    input[type='number'] { width: 5rem; }
    .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 0.6rem; }
    .pair label { display: block; font-size: 0.9rem; }
  `;

  override render() {
    return html`<details data-ask>
      <summary>Ask another question (reuses this run's factors: no refit)</summary>
      <p class="note">One query per line as JSONL, e.g. <code>{"prompt": "Question: …\\nAnswer:\\n", "response": "… #### 7",
        "measure": [{"start": 0, "end": 3}]}</code>. The run's model, training data and settings are kept; only the
        scoring pass runs.</p>
      <textarea data-ask-queries spellcheck="false" ?disabled=${this.busy}></textarea>
      <button data-action="ask" ?disabled=${this.busy} @click=${this.ask}>Attribute these queries</button>
      <p class="note">Or let the model answer a prompt (greedy, written as the training prompts are) and attribute its
        answer — exactly the tokens it generates:</p>
      <textarea data-ask-prompt spellcheck="false" ?disabled=${this.busy}></textarea>
      <label>at most <input data-ask-max-tokens type="number" min="1" step="1" value="32" ?disabled=${this.busy} />
        new tokens</label>
      <button data-action="generate" ?disabled=${this.busy} @click=${this.generate}>Generate and attribute</button>
      <h4>Compare two responses</h4>
      <p class="note">One prompt, two responses (say the model's answer and a reference): both are attributed against this
        run's factors and the training examples are ranked by the difference of their influence, I(A) − I(B) — which
        examples push toward A rather than B, and toward B rather than A.</p>
      <label for="compare-prompt">Prompt</label>
      <textarea id="compare-prompt" data-compare-prompt spellcheck="false" ?disabled=${this.busy}></textarea>
      <div class="pair">
        <label>Response A<textarea data-compare-a spellcheck="false" ?disabled=${this.busy}></textarea></label>
        <label>Response B<textarea data-compare-b spellcheck="false" ?disabled=${this.busy}></textarea></label>
      </div>
      <button data-action="compare" ?disabled=${this.busy} @click=${this.compare}>Compare the two responses</button>
    </details>`;
  }

  private generate(): void {
    const prompt = this.promptText.value;
    const maxNewTokens = Number(this.maxTokens.value);
    if (prompt.trim() === '' || !(Number.isInteger(maxNewTokens) && maxNewTokens >= 1)) return;
    const detail: AskDetail = { runId: this.runId, prompt, maxNewTokens };
    this.dispatchEvent(new CustomEvent<AskDetail>('ask-another', { detail, bubbles: true, composed: true }));
  }

  private compare(): void {
    const [prompt, a, b] = [this.comparePrompt.value, this.compareA.value, this.compareB.value];
    if (prompt.trim() === '' || a === '' || b === '') return;
    const detail: AskDetail = { runId: this.runId, queries: comparisonRows(prompt, a, b), compare: true };
    this.dispatchEvent(new CustomEvent<AskDetail>('ask-another', { detail, bubbles: true, composed: true }));
  }

  private ask(): void {
    const queries = this.text.value.trim();
    if (queries === '') return;
    const detail: AskDetail = { runId: this.runId, queries: queries + '\n' };
    this.dispatchEvent(new CustomEvent<AskDetail>('ask-another', { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'ask-question': AskQuestion;
  }
}
