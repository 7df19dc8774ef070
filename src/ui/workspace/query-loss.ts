import { LitElement, css, html, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import * as Plot from '@observablehq/plot';
import { viewStyles } from './shared-styles';
import { cursorStep, moveCursorClass, sequentialPalette, shadedTokens, titleOnHover } from './token-shading';

const SCHEME = 'Reds';

/**
 * A query's prompt and reference response as tokens shaded by the loss of predicting each (white: the model expected
 * it, dark red: it did not), values on hover and under the keyboard cursor. Prompt tokens are not measured: unshaded.
 */
@customElement('query-loss')
export class QueryLoss extends LitElement {
  @property({ attribute: false }) tokens: readonly string[] = [];
  @property({ attribute: false }) loss: readonly (number | null)[] = [];
  @state() private cursor = -1;
  /** Built once per query: a keypress re-renders the cursor line, not the tokens or the legend. */
  private built: { loss: readonly (number | null)[]; spans: DocumentFragment; legend: Element } | null = null;

  static override styles = [
    viewStyles,
    css`
      .tokens { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, SFMono-Regular, monospace;
        font-size: 0.85rem; line-height: 1.55; border: 1px solid #d8dce3; padding: 0.5rem; max-height: 16rem;
        overflow: auto; }
      .tokens span { border-radius: 2px; }
      .tokens span.cursor { outline: 2px solid #1d4ed8; }
    `,
  ];

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('loss') || changed.has('tokens')) this.cursor = -1;
  }

  private describe(t: number): string {
    const loss = this.loss[t];
    const text = JSON.stringify(this.tokens[t]);
    return loss === null || loss === undefined
      ? `token ${t} ${text}: prompt, not measured`
      : `token ${t} ${text}: loss ${loss.toFixed(4)} nats (p = ${Math.exp(-loss).toPrecision(3)})`;
  }

  override render(): TemplateResult {
    const measured = this.loss.filter((l): l is number => l !== null);
    const max = Math.max(0, ...measured);
    const total = measured.reduce((sum, l) => sum + l, 0);
    if (this.built?.loss !== this.loss) {
      const colour = Plot.scale({ color: { type: 'linear', scheme: SCHEME, domain: [0, max || 1] } });
      const values = Float64Array.from(this.loss, (l) => (l === null ? NaN : l));
      const palette = sequentialPalette(max, (v) => String(colour.apply(v)));
      const shading = { tokens: this.tokens, values, palette, describe: (t: number) => this.describe(t) };
      const legend = Plot.legend({
        color: { type: 'linear', scheme: SCHEME, domain: [0, max || 1], label: 'loss per token (nats)' },
        width: 320,
        marginLeft: 12,
        marginRight: 12,
      });
      this.built = { loss: this.loss, spans: shadedTokens(shading), legend };
    }
    return html`
      <p class="note" data-loss-summary>Loss of the reference response: <span class="num">${total.toFixed(4)}</span>
        nats summed over ${measured.length} tokens (mean <span
          class="num">${(total / Math.max(1, measured.length)).toFixed(4)}</span>). Each response token is shaded by
        the loss of predicting it; prompt tokens are not measured.</p>
      <figure>${this.built.legend}</figure>
      <div class="tokens" data-query-loss tabindex="0" role="group"
        aria-label="query tokens shaded by loss; arrow keys move between tokens"
        @mouseover=${(e: Event) => titleOnHover(e, (t) => this.describe(t))}
        @keydown=${(e: KeyboardEvent) => this.move(e)}>${this.built.spans}</div>
      <p class="note num" aria-live="polite" data-loss-cursor>${this.cursor >= 0 ? this.describe(this.cursor) : ''}</p>
    `;
  }

  private move(event: KeyboardEvent): void {
    const next = cursorStep(event.key, this.cursor, this.tokens.length);
    if (next === null) return;
    event.preventDefault();
    const box = this.renderRoot.querySelector('[data-query-loss]');
    if (box) moveCursorClass(box, this.cursor, next)?.scrollIntoView({ block: 'nearest' });
    this.cursor = next;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'query-loss': QueryLoss;
  }
}
