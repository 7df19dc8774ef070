import { LitElement, html, svg, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { Example } from '../../teach/network';
import { divergingColour, formatNumber, HARMS_COLOUR, HELPS_COLOUR, maxAbs } from './colour';

const SIZE = 460;
const PAD = 28;
const GRID = 36;

export interface PointMove {
  readonly index: number;
  readonly x: readonly number[];
  readonly y: number;
}

/**
 * The direct-manipulation plot: training points sized and coloured by a signed value (influence on the query, or
 * self-influence), the test points (click one to make it the query), the model's prediction behind them. Drag a
 * training point to move it, click empty space to add one (shift: the other class), right-click or alt-click to
 * delete. Every edit is one event; the app retrains. Rendered as SVG in the light DOM so the page's CSS applies.
 */
@customElement('lab-plot')
export class LabPlot extends LitElement {
  @property() model: 'linear' | 'logistic' | 'mlp' = 'logistic';
  @property({ attribute: false }) window: readonly [number, number, number, number] = [-2, 2, -2, 2];
  @property({ attribute: false }) points: readonly Example[] = [];
  @property({ attribute: false }) tests: readonly Example[] = [];
  @property({ type: Number }) query = 0;
  /** Signed value per training point (null: not computed yet). */
  @property({ attribute: false }) values: Float64Array | null = null;
  @property() valueLabel = 'influence on the query';
  /** Prediction at x: P(class 1) for classifiers, ŷ for regression. */
  @property({ attribute: false }) predict: ((x: readonly number[]) => number) | null = null;
  @state() private dragging: { index: number; x: number; y: number; moved: boolean } | null = null;

  protected override createRenderRoot() {
    return this;
  }

  private sx = (v: number) => PAD + ((v - this.window[0]) / (this.window[1] - this.window[0])) * (SIZE - 2 * PAD);
  private sy = (v: number) =>
    SIZE - PAD - ((v - this.window[2]) / (this.window[3] - this.window[2])) * (SIZE - 2 * PAD);
  private ix = (px: number) => this.window[0] + ((px - PAD) / (SIZE - 2 * PAD)) * (this.window[1] - this.window[0]);
  private iy = (py: number) =>
    this.window[2] + ((SIZE - PAD - py) / (SIZE - 2 * PAD)) * (this.window[3] - this.window[2]);

  private coordinates(event: PointerEvent | MouseEvent): [number, number] {
    const svgEl = this.querySelector('svg')!;
    const box = svgEl.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * SIZE;
    const py = ((event.clientY - box.top) / box.height) * SIZE;
    const round = (v: number) => Math.round(v * 1000) / 1000;
    return [round(this.ix(px)), round(this.iy(py))];
  }

  private emit(name: string, detail: unknown) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  private position(p: Example): [number, number] {
    return this.model === 'linear' ? [p.x[0], p.y] : [p.x[0], p.x[1]];
  }

  private onBackgroundClick(event: MouseEvent) {
    if (event.button !== 0) return;
    const [x, y] = this.coordinates(event);
    if (this.model === 'linear') this.emit('add-point', { x: [x], y });
    else this.emit('add-point', { x: [x, y], y: event.shiftKey ? 1 : 0 });
  }

  private onPointDown(event: PointerEvent, index: number) {
    event.stopPropagation();
    if (event.button !== 0) return;
    if (event.altKey) {
      this.emit('delete-point', index);
      return;
    }
    (event.target as Element).setPointerCapture(event.pointerId);
    const [x, y] = this.position(this.points[index]);
    this.dragging = { index, x, y, moved: false };
  }

  private onPointerMove(event: PointerEvent) {
    if (!this.dragging) return;
    const [x, y] = this.coordinates(event);
    // Kept inside the window, so a point can always be grabbed again.
    const [x0, x1, y0, y1] = this.window;
    this.dragging = {
      ...this.dragging,
      x: Math.min(x1, Math.max(x0, x)),
      y: Math.min(y1, Math.max(y0, y)),
      moved: true,
    };
  }

  private onPointerUp() {
    const drag = this.dragging;
    this.dragging = null;
    if (!drag || !drag.moved) return;
    const original = this.points[drag.index];
    const move: PointMove =
      this.model === 'linear'
        ? { index: drag.index, x: [drag.x], y: drag.y }
        : { index: drag.index, x: [drag.x, drag.y], y: original.y };
    this.emit('move-point', move);
  }

  private background() {
    const predict = this.predict;
    if (!predict) return nothing;
    const [x0, x1, y0, y1] = this.window;
    if (this.model === 'linear') {
      const pts = [x0, x1].map((x) => `${this.sx(x)},${this.sy(predict([x]))}`).join(' ');
      return svg`<polyline class="fit" points=${pts}></polyline>`;
    }
    const cells = [];
    const w = (SIZE - 2 * PAD) / GRID;
    // Prediction at the grid's (GRID + 1)² corners: cells are shaded from their centre, the boundary traced on corners.
    const corner = (i: number, j: number) => predict([x0 + (i / GRID) * (x1 - x0), y0 + (j / GRID) * (y1 - y0)]);
    const p = Array.from({ length: GRID + 1 }, (_, i) => Array.from({ length: GRID + 1 }, (_, j) => corner(i, j)));
    for (let i = 0; i < GRID; i++)
      for (let j = 0; j < GRID; j++) {
        const centre = (p[i][j] + p[i + 1][j] + p[i][j + 1] + p[i + 1][j + 1]) / 4;
        // Grey for class 1, white for class 0: the influence colours keep the hue channel to themselves.
        const shade = Math.round(252 - 28 * centre - (centre > 0.5 ? 10 : 0));
        cells.push(svg`<rect x=${PAD + i * w} y=${SIZE - PAD - (j + 1) * w} width=${w + 0.5} height=${w + 0.5}
          fill=${`rgb(${shade},${shade},${shade})`}></rect>`);
      }
    return svg`<g class="field">${cells}</g><path class="boundary" d=${this.boundary(p, w)}></path>`;
  }

  /** The p = ½ contour by marching squares over the corner grid (ambiguous saddles pair edges in order). */
  private boundary(p: number[][], w: number): string {
    const segments: string[] = [];
    const cross = (a: number, b: number) => (0.5 - a) / (b - a);
    for (let i = 0; i < GRID; i++)
      for (let j = 0; j < GRID; j++) {
        const [a, b, c, d] = [p[i][j], p[i + 1][j], p[i + 1][j + 1], p[i][j + 1]];
        const hits: [number, number][] = [];
        if (a > 0.5 !== b > 0.5) hits.push([i + cross(a, b), j]);
        if (b > 0.5 !== c > 0.5) hits.push([i + 1, j + cross(b, c)]);
        if (d > 0.5 !== c > 0.5) hits.push([i + cross(d, c), j + 1]);
        if (a > 0.5 !== d > 0.5) hits.push([i, j + cross(a, d)]);
        const at = ([u, v]: [number, number]) => `${(PAD + u * w).toFixed(1)} ${(SIZE - PAD - v * w).toFixed(1)}`;
        for (let k = 0; k + 1 < hits.length; k += 2) segments.push(`M${at(hits[k])} L${at(hits[k + 1])}`);
      }
    return segments.join(' ');
  }

  private marker(cls: number, x: number, y: number, r: number, attrs: { fill: string; klass: string }) {
    if (this.model !== 'linear' && cls === 1) {
      const s = r * 1.7;
      return svg`<rect class=${attrs.klass} x=${x - s / 2} y=${y - s / 2} width=${s} height=${s}
        fill=${attrs.fill}></rect>`;
    }
    return svg`<circle class=${attrs.klass} cx=${x} cy=${y} r=${r} fill=${attrs.fill}></circle>`;
  }

  override render() {
    const scale = this.values ? maxAbs(this.values) : 1;
    const points = this.points.map((p, index) => {
      const [px, py] = this.dragging?.index === index ? [this.dragging.x, this.dragging.y] : this.position(p);
      const v = this.values ? this.values[index] : 0;
      const r = 4 + 8 * Math.sqrt(Math.abs(v) / scale);
      return svg`<g class="train" data-index=${index} data-value=${String(v)}
          @pointerdown=${(e: PointerEvent) => this.onPointDown(e, index)}
          @contextmenu=${(e: MouseEvent) => (e.preventDefault(), this.emit('delete-point', index))}>
        ${this.marker(p.y, this.sx(px), this.sy(py), r, { fill: divergingColour(v / scale), klass: 'mark' })}
        <title>point ${index}: ${this.valueLabel} ${formatNumber(v)}</title></g>`;
    });
    const tests = this.tests.map((t, index) => {
      const [px, py] = this.position(t);
      const x = this.sx(px);
      const y = this.sy(py);
      const selected = index === this.query;
      const s = selected ? 9 : 6;
      return svg`<g class=${selected ? 'test query' : 'test'} data-test=${index}
          @pointerdown=${(e: PointerEvent) => (e.stopPropagation(), this.emit('select-query', index))}>
        <path d=${`M${x} ${y - s} L${x + s} ${y} L${x} ${y + s} L${x - s} ${y} Z`}></path>
        ${selected ? svg`<circle class="ring" cx=${x} cy=${y} r=${s + 5}></circle>` : nothing}
        <title>test point ${index}${this.model === 'linear' ? '' : ` (class ${t.y})`}: click: the query</title>
      </g>`;
    });
    const [x0, x1, y0, y1] = this.window;
    return html`<svg
        viewBox="0 0 ${SIZE} ${SIZE}"
        class="lab-plot"
        role="img"
        aria-label="training points coloured by ${this.valueLabel}"
        @pointermove=${(e: PointerEvent) => this.onPointerMove(e)}
        @pointerup=${() => this.onPointerUp()}
      >
        <rect
          class="frame"
          x=${PAD}
          y=${PAD}
          width=${SIZE - 2 * PAD}
          height=${SIZE - 2 * PAD}
          @click=${(e: MouseEvent) => this.onBackgroundClick(e)}
        ></rect>
        <g pointer-events="none">${this.background()}</g>
        <text class="tick" x=${PAD} y=${SIZE - 8}>${x0}</text>
        <text class="tick" x=${SIZE - PAD} y=${SIZE - 8} text-anchor="end">${x1}</text>
        <text class="tick" x="4" y=${SIZE - PAD}>${y0}</text>
        <text class="tick" x="4" y=${PAD + 8}>${y1}</text>
        ${points}${tests}
      </svg>
      <div class="legend">
        <span
          class="swatch"
          style="background:linear-gradient(90deg, ${HARMS_COLOUR}, #f7f7f7, ${HELPS_COLOUR})"
        ></span>
        <span
          >${
            this.valueLabel === 'self-influence'
              ? `${this.valueLabel}: 0 → high (purple)`
              : `harms ← ${this.valueLabel} → helps`
          };
          size ∝ √|value|; max |value| ${formatNumber(scale)}</span
        >
      </div>
      <p class="hint">
        ${this.model === 'linear' ? '' : '● class 0 ■ class 1 · '}◆ test points (click: query) · drag a point · click
        empty space to add${this.model === 'linear' ? '' : ' (shift: class 1)'} · right-click or alt-click deletes
      </p>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'lab-plot': LabPlot;
  }
}
