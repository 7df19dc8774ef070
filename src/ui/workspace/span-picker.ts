/**
 * "Attribute this span": pick a range of a query's response tokens — click (or Enter/Space on) a first and a last
 * token, or shift-click to extend — and ask that query again against the run's stored factors with its measurement
 * restricted to the range (event `ask-span`, detail {runId, queryId, spans}; the app runs it, worker/ask-span.ts).
 * Token text is data: rendered as text.
 */
import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { AskDetail } from '../ask-question';

@customElement('span-picker')
export class SpanPicker extends LitElement {
  @property({ attribute: false }) tokens: readonly string[] = [];
  /** The first response token's position: tokens before it are the prompt, not selectable. */
  @property({ type: Number }) responseStart = 0;
  @property({ attribute: 'run-id' }) runId = '';
  @property({ attribute: 'query-id' }) queryId = '';
  /** The selection [first, last] (positions, inclusive); last is null while only the first is picked. */
  @state() private first: number | null = null;
  @state() private last: number | null = null;

  static override styles = css`
    :host { display: block; margin: 0.5rem 0; }
    .tokens { font-family: ui-monospace, SFMono-Regular, monospace; font-size: 0.85rem; line-height: 1.9;
      white-space: pre-wrap; word-break: break-word; }
    button.tok { font: inherit; border: 1px solid #d8dce3; background: #fff; color: #1f2430; padding: 0 0.15rem;
      margin: 0 1px; border-radius: 3px; cursor: pointer; white-space: pre; }
    button.tok[aria-pressed='true'] { background: #5e3c99; color: #fff; border-color: #5e3c99; }
    button.tok:focus-visible { outline: 2px solid #1d4ed8; }
    .note { color: #4a5263; font-size: 0.9rem; }
  `;

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('queryId') || changed.has('tokens')) [this.first, this.last] = [null, null];
  }

  private range(): { start: number; end: number } | null {
    if (this.first === null) return null;
    const last = this.last ?? this.first;
    return { start: Math.min(this.first, last), end: Math.max(this.first, last) + 1 };
  }

  private pick(position: number, extend: boolean): void {
    if (this.first === null || (this.last !== null && !extend)) [this.first, this.last] = [position, null];
    else this.last = position;
  }

  override render() {
    const range = this.range();
    const positions = Array.from({ length: this.tokens.length - this.responseStart }, (_, i) => this.responseStart + i);
    const count = range ? range.end - range.start : 0;
    return html`<details data-span-picker>
      <summary>Attribute a span of the response (select tokens, then ask again against this run's factors)</summary>
      <p class="note">Click the first and the last token of the span (shift-click extends it; Tab and Enter work too).
        The query is attributed again, measured on those tokens only (T_q = their count); no refit.</p>
      <div class="tokens" role="group" aria-label="response tokens">
        ${positions.map((t) => {
          const inside = range !== null && t >= range.start && t < range.end;
          return html`<button class="tok" data-span-token=${t} aria-pressed=${inside ? 'true' : 'false'}
            aria-label=${`token ${t}: ${JSON.stringify(this.tokens[t])}`}
            @click=${(e: MouseEvent) => this.pick(t, e.shiftKey)}>${this.tokens[t]}</button>`;
        })}
      </div>
      <p class="note" data-span-selected>${
        range
          ? `Selected: positions ${range.start}–${range.end - 1} (${count} token${count === 1 ? '' : 's'}, T_q = ${count}): ${JSON.stringify(this.tokens.slice(range.start, range.end).join(''))}`
          : 'Nothing selected.'
      }</p>
      <button data-action="attribute-span" ?disabled=${range === null || this.runId === ''} @click=${this.ask}>
        Attribute this span</button>
    </details>`;
  }

  private ask(): void {
    const range = this.range();
    if (!range) return;
    const detail: AskDetail = { runId: this.runId, queryId: this.queryId, spans: [range] };
    this.dispatchEvent(new CustomEvent<AskDetail>('ask-span', { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'span-picker': SpanPicker;
  }
}
