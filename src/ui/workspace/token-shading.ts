/**
 * Tokens shaded by a value (a training example's per-token influence, a query's per-token loss), built as plain DOM
 * once per example rather than as one Lit template per token: at 2,000 tokens the per-token template instances,
 * their five attribute bindings and a scale interpolation per token were most of the heatmap's first paint. Token text
 * is data, so it is set with textContent only. The value of a token is its title, set when the pointer first reaches
 * it (one listener for all), and the keyboard cursor is a class moved between two spans.
 */
import { divergingColor, formatScore, textColorOn } from './model';

/** Background and text colour of a value; precomputed per scale, so shading a token is an array lookup. */
export interface Palette {
  colors(value: number): { readonly background: string; readonly text: string };
}

const STEPS = 255;

function palette(low: number, high: number, colorOf: (value: number) => string): Palette {
  const entries = Array.from({ length: STEPS }, (_, i) => {
    const background = colorOf(low + ((high - low) * i) / (STEPS - 1));
    return { background, text: textColorOn(background) };
  });
  const span = high - low || 1;
  return {
    colors(value) {
      const at = Math.round(((value - low) / span) * (STEPS - 1));
      return entries[Number.isFinite(at) ? Math.max(0, Math.min(STEPS - 1, at)) : (STEPS - 1) >> 1]!;
    },
  };
}

/** The workspace's diverging influence scale (model.ts divergingColor) as a palette of 255 steps. */
export function divergingPalette(extent: number): Palette {
  const color = divergingColor(extent);
  const limit = extent > 0 && Number.isFinite(extent) ? extent : 1;
  return palette(-limit, limit, color.apply);
}

/** A sequential palette from 0 to `max` through the given colour function (e.g. a loss: white to dark). */
export function sequentialPalette(max: number, colorOf: (value: number) => string): Palette {
  return palette(0, max > 0 && Number.isFinite(max) ? max : 1, colorOf);
}

export interface ShadedTokens {
  readonly tokens: readonly string[];
  /** One value per token; NaN where a token has none (left unshaded). */
  readonly values: ArrayLike<number>;
  readonly palette: Palette;
  /** Positions where a segment starts (a bar on the token's left). */
  readonly boundaries?: ReadonlySet<number>;
  /** What hovering or the cursor says about token t. */
  describe(t: number): string;
}

/** The spans of tokens [from, to), in a fragment: `<span data-t data-value style>` per token. */
export function shadedTokens(shading: ShadedTokens, from = 0, to = shading.tokens.length): DocumentFragment {
  const fragment = document.createDocumentFragment();
  const { tokens, values, boundaries } = shading;
  for (let t = from; t < Math.min(to, tokens.length); t++) {
    const span = document.createElement('span');
    const value = values[t]!;
    span.textContent = tokens[t]!;
    span.dataset.t = String(t);
    span.dataset.value = String(value);
    if (!Number.isNaN(value)) {
      const { background, text } = shading.palette.colors(value);
      span.style.cssText = `background:${background};color:${text}`;
    }
    if (boundaries?.has(t)) span.className = 'boundary';
    fragment.append(span);
  }
  return fragment;
}

/** Tokens drawn before the first paint: more than a 32rem box shows at 1280 px; the rest follow in later tasks. */
export const FIRST_TOKENS = 600;
const LATER_TOKENS = 700;

/**
 * Append the spans after the first FIRST_TOKENS to `container`, LATER_TOKENS per task after the next frame, while
 * `current()` holds; marks the container data-complete when every token is there.
 */
export function appendRemaining(container: HTMLElement, shading: ShadedTokens, current: () => boolean): void {
  const total = shading.tokens.length;
  const step = (from: number) => {
    if (!current() || !container.isConnected) return;
    if (from >= total) return void container.setAttribute('data-complete', '');
    container.append(shadedTokens(shading, from, from + LATER_TOKENS));
    setTimeout(() => step(from + LATER_TOKENS), 0);
  };
  requestAnimationFrame(() => setTimeout(() => step(FIRST_TOKENS), 0));
}

/** The token under a pointer event, if any, and its position. */
export function tokenAt(event: Event): { span: HTMLElement; t: number } | null {
  const span = (event.target as HTMLElement | null)?.closest?.('span[data-t]') as HTMLElement | null;
  return span ? { span, t: Number(span.dataset.t) } : null;
}

/** Hover: a token gets its title the first time the pointer reaches it. */
export function titleOnHover(event: Event, describe: (t: number) => string): void {
  const hit = tokenAt(event);
  if (hit && !hit.span.title) hit.span.title = describe(hit.t);
}

/** Move the cursor class from one span to another inside `root`; returns the new span. */
export function moveCursorClass(root: ParentNode, from: number, to: number): HTMLElement | null {
  if (from >= 0) root.querySelector(`span[data-t="${from}"]`)?.classList.remove('cursor');
  const span = root.querySelector<HTMLElement>(`span[data-t="${to}"]`);
  span?.classList.add('cursor');
  return span;
}

/** "token 12 "text": +0.0123" */
export function describeToken(tokens: readonly string[], values: ArrayLike<number>, t: number): string {
  return `token ${t} ${JSON.stringify(tokens[t])}: ${formatScore(values[t]!)}`;
}

/** Where the arrow, Home and End keys move a cursor in a sequence of `length`; null for other keys. */
export function cursorStep(key: string, cursor: number, length: number): number | null {
  const step =
    key === 'ArrowRight' ? 1 : key === 'ArrowLeft' ? -1 : key === 'Home' ? -length : key === 'End' ? length : 0;
  if (step === 0 || length === 0) return null;
  // Without a cursor yet, any key but End starts on the first token.
  const next = cursor < 0 ? (key === 'End' ? length - 1 : 0) : cursor + step;
  return Math.max(0, Math.min(length - 1, next));
}
