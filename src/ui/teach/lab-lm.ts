import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { LM_QUERIES, LM_VOCAB, normaliseSentence, tokenize } from '../../teach/lm-data';
import { queryRow, type LmResult, type Method } from '../../teach/results';
import { MAX_SENTENCES } from '../../teach/state';
import { divergingColour, formatNumber, HARMS_COLOUR, HELPS_COLOUR, maxAbs } from './colour';

/**
 * The tiny LM's view: pick a query sentence; every training sentence is listed with its influence on it (the chosen
 * method's τ, or −N·Δf for leave-one-out) and each of its predicted tokens coloured by EK-FAC's per-token score —
 * the engine's per-token τ, which sums over a sentence's tokens to the sentence's τ. The training sentences can be
 * edited, deleted and added (words from the model's vocabulary); an edit is checked here, named when it is wrong,
 * and otherwise sent up as the new list ('edit-sentences'), which retrains. Sentences are always rendered as text.
 */
@customElement('lab-lm')
export class LabLm extends LitElement {
  @property({ attribute: false }) result: LmResult | null = null;
  @property({ type: Number }) query = 0;
  @property() method: Method | 'loo' = 'ekfac';
  /** The training sentences of the current state (what the result, once current, was trained on). */
  @property({ attribute: false }) sentences: readonly string[] = [];
  /** Index of the sentence being edited, or null. */
  @state() private editing: number | null = null;
  @state() private problem: string | null = null;

  protected override createRenderRoot() {
    return this;
  }

  private select(q: number) {
    this.dispatchEvent(new CustomEvent('select-query', { detail: q, bubbles: true, composed: true }));
  }

  /** Checks a typed sentence; on success sends the new list up, else says what is wrong. */
  private commit(text: string, replace: number | null): boolean {
    const sentence = normaliseSentence(text);
    try {
      tokenize(sentence);
    } catch (error) {
      this.problem = (error as Error).message;
      return false;
    }
    const next = [...this.sentences];
    if (replace === null) next.push(sentence);
    else next[replace] = sentence;
    this.send(next);
    return true;
  }

  private send(next: string[]) {
    this.problem = null;
    this.editing = null;
    this.dispatchEvent(new CustomEvent('edit-sentences', { detail: next, bubbles: true, composed: true }));
  }

  private removeSentence(i: number) {
    this.send(this.sentences.filter((_, k) => k !== i));
  }

  private editor(i: number) {
    const save = (form: HTMLFormElement) => this.commit((form.elements.namedItem('text') as HTMLInputElement).value, i);
    return html`<form
      class="sentence-edit"
      @submit=${(e: Event) => {
        e.preventDefault();
        save(e.currentTarget as HTMLFormElement);
      }}
      @keydown=${(e: KeyboardEvent) => {
        if (e.key === 'Escape') {
          this.editing = null;
          this.problem = null;
        }
      }}
    >
      <input name="text" data-edit=${i} .value=${this.sentences[i]} aria-label="Edit sentence ${i + 1}" />
      <button type="submit" data-action="save">Save</button>
      <button type="button" @click=${() => ((this.editing = null), (this.problem = null))}>Cancel</button>
    </form>`;
  }

  private adder() {
    const full = this.sentences.length >= MAX_SENTENCES;
    return html`<form
        class="sentence-add"
        @submit=${(e: Event) => {
          e.preventDefault();
          const input = (e.currentTarget as HTMLFormElement).elements.namedItem('text') as HTMLInputElement;
          if (this.commit(input.value, null)) input.value = '';
        }}
      >
        <input name="text" data-add placeholder="a new training sentence" aria-label="New training sentence" />
        <button type="submit" data-action="add" ?disabled=${full}>Add sentence</button>
      </form>
      ${this.problem ? html`<p class="error" role="alert" data-problem>${this.problem}</p>` : nothing}
      <p class="hint">Words: ${LM_VOCAB.slice(2).join(' ')}. Every edit retrains the model and rescores.</p>`;
  }

  private actions(i: number) {
    return html`<span class="sentence-actions">
      <button data-action="edit" data-index=${i} title="Edit" @click=${() => ((this.editing = i), (this.problem = null))}>
        Edit
      </button>
      <button
        data-action="delete"
        data-index=${i}
        title=${this.sentences.length <= 2 ? 'The model needs at least 2 sentences' : 'Delete'}
        ?disabled=${this.sentences.length <= 2}
        @click=${() => this.removeSentence(i)}
      >
        Delete
      </button>
    </span>`;
  }

  override render() {
    const r = this.result;
    const queries = html`<div class="lm-queries">
      <span>Query sentence:</span>
      ${LM_QUERIES.map(
        (sentence, q) =>
          html`<button class=${q === this.query ? 'selected' : ''} data-query=${q} @click=${() => this.select(q)}>
            ${sentence}
          </button>`,
      )}
    </div>`;
    if (!r)
      return html`${queries}
        <p class="hint">Computing…</p>
        ${this.adder()}`;
    const n = r.trainCount;
    const scores =
      this.method === 'loo'
        ? queryRow(r.loo, this.query, n).map((v) => -v * n)
        : queryRow(r.methods[this.method].tau, this.query, n);
    const { offsets, values } = r.perToken;
    const row = values.subarray(this.query * offsets[n], (this.query + 1) * offsets[n]);
    const tokenScale = maxAbs(row);
    const sentenceScale = maxAbs(scores);
    const order = Array.from(scores, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
    return html`${queries}
      <table class="lm-sentences">
        <thead>
          <tr>
            <th>Training sentence (tokens: EK-FAC per-token τ)</th>
            <th>τ (${this.method})</th>
            <th><span class="visually-hidden">Edit</span></th>
          </tr>
        </thead>
        <tbody>
          ${order.map((i) => {
            const ids = r.train[i];
            if (this.editing === i)
              return html`<tr data-sentence=${i}>
                <td colspan="3">${this.editor(i)}</td>
              </tr>`;
            return html`<tr data-sentence=${i} data-score=${String(scores[i])}>
              <td class="tokens">
                <span class="token start">${LM_VOCAB[ids[0]]}</span>${ids.slice(1).map((id, t) => {
                  const v = row[offsets[i] + t];
                  return html`<span
                    class="token"
                    data-token-score=${String(v)}
                    style="background:${divergingColour(v / tokenScale)}"
                    title=${`predicting "${LM_VOCAB[id]}" after "${LM_VOCAB[ids[t]]}": ${formatNumber(v)}`}
                    >${LM_VOCAB[id]}</span
                  >`;
                })}
              </td>
              <td class="num">
                <span class="bar" style="background:${divergingColour(scores[i] / sentenceScale)}"></span
                >${formatNumber(scores[i])}
              </td>
              <td class="row-actions">${this.actions(i)}</td>
            </tr>`;
          })}
        </tbody>
      </table>
      <div class="legend">
        <span
          class="swatch"
          style="background:linear-gradient(90deg, ${HARMS_COLOUR}, #f7f7f7, ${HELPS_COLOUR})"
        ></span>
        <span
          >harms ← influence on the query sentence's log-likelihood → helps. A token's score belongs to the step that
          predicts it; a sentence's tokens sum to its EK-FAC τ.</span
        >
      </div>
      ${this.adder()}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'lab-lm': LabLm;
  }
}
