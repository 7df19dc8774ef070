/**
 * The lab's chain (./network.ts) evaluated for all training points at once: per layer the inputs of every point as
 * one [N × (dIn + 1)] matrix (the 1 last), so forward and backward are three matrix products per layer over the
 * whole batch instead of N small per-point passes. Fitting calls this hundreds of times per edit (AdamW steps, Newton
 * iterations, finite-difference Hessian columns); the per-example chain (network.ts) stays the reference it is tested
 * against (1e-12) and what the engine's gradient source reads.
 *
 * The products are plain loops, not the CPU backend's blocked GEMM (src/linalg/cpu/gemm.ts): with widths ≤ 7 its
 * packing and edge handling cost more than the multiply-adds (measured 2× slower at [200 × 6 × 3]); the lab uses the
 * GEMM where the shapes suit it (the P × P Gram of per-example vectors in ./fit.ts).
 */

/** C[i, r] = Σ_j A[i, j] · W[r, j] for A [n × k] (stride lda), W [m × k] at offset (stride ldw), C stride ldc. */
function timesTransposed(
  n: number,
  m: number,
  k: number,
  a: Float64Array,
  lda: number,
  w: Float64Array,
  offset: number,
  ldw: number,
  c: Float64Array,
  ldc: number,
): void {
  for (let i = 0; i < n; i++) {
    const ai = i * lda;
    for (let r = 0; r < m; r++) {
      const wr = offset + r * ldw;
      let s = 0;
      for (let j = 0; j < k; j++) s += a[ai + j] * w[wr + j];
      c[i * ldc + r] = s;
    }
  }
}
import { layerShapes, parameterCount, type Example, type LayerShape, type NetworkSpec, type SeedKind } from './network';

export class BatchChain {
  readonly n: number;
  readonly p: number;
  private readonly shapes: readonly LayerShape[];
  /** Per layer: ã for every point, [N × (dIn + 1)]; layer 0's is the data, fixed. */
  private readonly a: Float64Array[];
  /** Per layer: g (pre-activation gradient) for every point, [N × dOut]. */
  private readonly g: Float64Array[];
  private readonly logits: Float64Array;
  private readonly losses: Float64Array;
  /** Targets (regression) or classes, one per point. */
  private readonly labels: Float64Array;

  constructor(
    readonly spec: NetworkSpec,
    readonly examples: readonly Example[],
  ) {
    this.n = examples.length;
    this.p = parameterCount(spec);
    this.shapes = layerShapes(spec);
    const n = this.n;
    this.a = this.shapes.map(({ dIn }) => new Float64Array(n * (dIn + 1)));
    this.g = this.shapes.map(({ dOut }) => new Float64Array(n * dOut));
    const last = this.shapes[this.shapes.length - 1];
    this.logits = new Float64Array(n * last.dOut);
    this.losses = new Float64Array(n);
    this.labels = Float64Array.from(examples, (e) => e.y);
    const d0 = spec.widths[0];
    examples.forEach((e, i) => {
      if (e.x.length !== d0) throw new Error(`BatchChain: point ${i} has ${e.x.length} inputs, the model takes ${d0}`);
      for (let j = 0; j < d0; j++) this.a[0][i * (d0 + 1) + j] = e.x[j];
      this.a[0][i * (d0 + 1) + d0] = 1;
    });
  }

  /** Forward pass for all points at θ; fills the activations and the per-point losses (given labels). */
  private forward(theta: Float64Array): void {
    const n = this.n;
    const lastLayer = this.shapes.length - 1;
    this.shapes.forEach(({ dIn, dOut, offset }, l) => {
      const ld = dIn + 1;
      const out = l < lastLayer ? this.a[l + 1] : this.logits;
      const outLd = l < lastLayer ? dOut + 1 : dOut;
      // Z = Ã · Wᵀ, written straight into the next layer's input matrix (its ones column is set below).
      timesTransposed(n, dOut, ld, this.a[l], ld, theta, offset, ld, out, outLd);
      if (l < lastLayer) {
        for (let i = 0; i < n; i++) {
          const row = i * outLd;
          for (let j = 0; j < dOut; j++) out[row + j] = Math.tanh(out[row + j]);
          out[row + dOut] = 1;
        }
      }
    });
    const k = this.shapes[lastLayer].dOut;
    for (let i = 0; i < n; i++) {
      const y = this.labels[i];
      if (this.spec.loss === 'mse') {
        const r = this.logits[i] - y;
        this.losses[i] = r * r;
      } else {
        let max = -Infinity;
        for (let c = 0; c < k; c++) max = Math.max(max, this.logits[i * k + c]);
        let sum = 0;
        for (let c = 0; c < k; c++) sum += Math.exp(this.logits[i * k + c] - max);
        this.losses[i] = max + Math.log(sum) - this.logits[i * k + y];
      }
    }
  }

  /** Σ_n w_n L_n(θ) (w = 1 when absent). */
  loss(theta: Float64Array, weights?: ArrayLike<number>): number {
    this.forward(theta);
    let total = 0;
    for (let i = 0; i < this.n; i++) total += (weights ? weights[i] : 1) * this.losses[i];
    return total;
  }

  /** Output seeds dL/dz (given) or the Fisher pseudo-gradient v (see network.ts SeedKind), times w_n, into g_last. */
  private seed(kind: SeedKind, weights?: ArrayLike<number>): void {
    const k = this.shapes[this.shapes.length - 1].dOut;
    const g = this.g[this.shapes.length - 1];
    for (let i = 0; i < this.n; i++) {
      const w = weights ? weights[i] : 1;
      if (this.spec.loss === 'mse') {
        g[i] = w * (kind === 'given' ? 2 * (this.logits[i] - this.labels[i]) : Math.SQRT2);
        continue;
      }
      // Two-class softmax: p₁ = σ(z₁ − z₀).
      const p1 = 1 / (1 + Math.exp(this.logits[i * k] - this.logits[i * k + 1]));
      if (kind === 'given') {
        const y = this.labels[i];
        g[i * k] = w * (1 - p1 - (y === 0 ? 1 : 0));
        g[i * k + 1] = w * (p1 - (y === 1 ? 1 : 0));
      } else {
        const scale = w * Math.sqrt(p1 * (1 - p1));
        g[i * k] = scale;
        g[i * k + 1] = -scale;
      }
    }
  }

  /** Backpropagates the seeds in g_last down the chain, filling every layer's g. */
  private backward(theta: Float64Array): void {
    const n = this.n;
    for (let l = this.shapes.length - 1; l > 0; l--) {
      const { dIn, dOut, offset } = this.shapes[l];
      // dL/dh_{l−1} = G_l · W_l[:, :dIn]; then through tanh: g_{l−1} = that ⊙ (1 − h²).
      const g = this.g[l];
      const below = this.g[l - 1];
      const h = this.a[l];
      const ld = dIn + 1;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < dIn; j++) {
          let s = 0;
          for (let r = 0; r < dOut; r++) s += g[i * dOut + r] * theta[offset + r * ld + j];
          const v = h[i * ld + j];
          below[i * dIn + j] = s * (1 - v * v);
        }
    }
  }

  /** Σ_n w_n ∇L_n(θ) into `out` (overwritten); returns Σ_n w_n L_n. */
  gradient(theta: Float64Array, out: Float64Array, weights?: ArrayLike<number>): number {
    const value = this.loss(theta, weights);
    this.seed('given', weights);
    this.backward(theta);
    this.shapes.forEach(({ dIn, dOut, offset }, l) => {
      // ∇W_l = G_lᵀ Ã_l: the sum over points of g ãᵀ.
      const ld = dIn + 1;
      const g = this.g[l];
      const a = this.a[l];
      out.fill(0, offset, offset + dOut * ld);
      for (let i = 0; i < this.n; i++)
        for (let r = 0; r < dOut; r++) {
          const gr = g[i * dOut + r];
          const row = offset + r * ld;
          for (let j = 0; j < ld; j++) out[row + j] += gr * a[i * ld + j];
        }
    });
    return value;
  }

  /** Per-point flat gradients (given labels) or Fisher pseudo-gradients, [N × P] row-major, at θ. */
  perExample(theta: Float64Array, kind: SeedKind, out = new Float64Array(this.n * this.p)): Float64Array {
    this.forward(theta);
    this.seed(kind);
    this.backward(theta);
    const p = this.p;
    this.shapes.forEach(({ dIn, dOut, offset }, l) => {
      const a = this.a[l];
      const g = this.g[l];
      const ld = dIn + 1;
      for (let i = 0; i < this.n; i++) {
        const row = i * p + offset;
        for (let r = 0; r < dOut; r++) {
          const gr = g[i * dOut + r];
          for (let j = 0; j < ld; j++) out[row + r * ld + j] = gr * a[i * ld + j];
        }
      }
    });
    return out;
  }
}
