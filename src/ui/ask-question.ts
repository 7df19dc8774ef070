/**
 * "Ask another question": query rows typed or pasted as JSONL (one {"prompt", "response", "measure"?} per line, as in
 * a query file, docs/data.md) are attributed against the factors a finished run fitted — same model, training data and
 * settings, no refit. The component only collects the rows; the app starts the run (event `ask-another`, detail
 * {runId, queries}). Text is data: nothing here renders it as HTML.
 */
import { LitElement, css, html } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';

export type AskDetail =
  | { readonly runId: string; readonly queries: string }
  | { readonly runId: string; readonly prompt: string; readonly maxNewTokens: number };

@customElement('ask-question')
export class AskQuestion extends LitElement {
  @property({ attribute: 'run-id' }) runId = '';
  @property({ type: Boolean }) busy = false;
  @query('textarea[data-ask-queries]') private text!: HTMLTextAreaElement;
  @query('textarea[data-ask-prompt]') private promptText!: HTMLTextAreaElement;
  @query('input[data-ask-max-tokens]') private maxTokens!: HTMLInputElement;

  static override styles = css`
    :host { display: block; margin: 1rem 0; }
    textarea { width: 100%; min-height: 5rem; font-family: ui-monospace, monospace; font-size: 0.85rem; }
    .note { color: #4a5263; font-size: 0.9rem; }
    input[type='number'] { width: 5rem; }
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
    </details>`;
  }

  private generate(): void {
    const prompt = this.promptText.value;
    const maxNewTokens = Number(this.maxTokens.value);
    if (prompt.trim() === '' || !(Number.isInteger(maxNewTokens) && maxNewTokens >= 1)) return;
    const detail: AskDetail = { runId: this.runId, prompt, maxNewTokens };
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
