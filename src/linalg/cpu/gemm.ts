/**
 * Blocked float64 GEMM for the CPU backend: C (+)= op(A) · op(B), Goto/BLIS-style.
 *
 * Why this shape: JavaScript has no SIMD for float64, so speed comes from keeping operands in L1/L2 and values in
 * registers. The K dimension is cut into KC-deep slices and the N dimension into NC-wide slices; each slice of op(B)
 * is packed once into NR-wide column panels, each MC × KC block of op(A) into MR-tall row panels, both contiguous
 * Float64Arrays read at unit stride whatever the operands' layout or transposition. The micro-kernel keeps an MR × NR
 * block of C in local variables (which V8 keeps in registers) over the whole KC slice, so every loaded value feeds
 * MR or NR multiply-adds. Panels are zero-padded at ragged edges so the micro-kernel never branches on shape; only
 * the write-back clips. Summation order over k is fixed by (KC, k) alone, so results do not depend on timing.
 */

/**
 * A row-major matrix view: element (i, j) of op(X) is data[offset + i·ld + j], or data[offset + j·ld + i] when
 * transposed.
 */
export interface MatrixView {
  readonly data: Float64Array;
  readonly offset?: number;
  /** Leading dimension: the stride between stored rows. */
  readonly ld: number;
  readonly transposed?: boolean;
}

export interface GemmOptions {
  /** Add into C instead of overwriting it. */
  readonly accumulate?: boolean;
  /**
   * Compute only the upper triangle (j ≥ i) of a square C, up to whole MR × NR micro-tiles that straddle the diagonal
   * (those are computed in full). Used for symmetric products XᵀX, halving their cost.
   */
  readonly upperOnly?: boolean;
}

const MR = 4;
const NR = 4;
/** Depth of one packed slice: an MR × KC panel of A (8 KiB) and an NR × KC panel of B stay in L1 together. */
const KC = 256;
/** Rows of A per packed block: MC × KC doubles = 128 KiB, resident in L2 (2 MiB per core here). */
const MC = 64;
/** Columns of B per packed slice: KC × NC doubles = 2 MiB would spill L2, so 1 MiB. */
const NC = 512;

/** Scratch panels reused across calls (single-threaded, so one set suffices). */
let packedA = new Float64Array(MC * KC);
let packedB = new Float64Array(KC * NC);

/** C[m, n] (+)= op(A)[m, k] · op(B)[k, n]. */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: MatrixView,
  b: MatrixView,
  c: MatrixView,
  options: GemmOptions = {},
): void {
  checkView('a', a, m, k);
  checkView('b', b, k, n);
  checkView('c', c, m, n);
  if (c.transposed) throw new Error('gemm: c must not be transposed');
  const upperOnly = options.upperOnly ?? false;
  if (upperOnly && m !== n) throw new Error(`gemm: upperOnly needs a square C, got [${m}, ${n}]`);
  const cOffset = c.offset ?? 0;
  if (!options.accumulate) {
    for (let i = 0; i < m; i++) c.data.fill(0, cOffset + i * c.ld, cOffset + i * c.ld + n);
  }
  if (m === 0 || n === 0 || k === 0) return;
  if (packedB.length < KC * NC) packedB = new Float64Array(KC * NC);
  if (packedA.length < MC * KC) packedA = new Float64Array(MC * KC);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packPanels(b, !b.transposed, pc, jc, kc, nc, NR, packedB);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        // With upperOnly, blocks entirely below the diagonal contribute nothing wanted.
        if (upperOnly && ic >= jc + nc) continue;
        packPanels(a, a.transposed ?? false, pc, ic, kc, mc, MR, packedA);
        macroKernel(mc, nc, kc, ic, jc, c.data, cOffset, c.ld, upperOnly);
      }
    }
  }
}

function checkView(name: string, view: MatrixView, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new Error(`gemm: ${name} must have non-negative integer extents, got [${rows}, ${cols}]`);
  }
  if (rows === 0 || cols === 0) return;
  const offset = view.offset ?? 0;
  const [storedRows, storedCols] = view.transposed ? [cols, rows] : [rows, cols];
  if (view.ld < storedCols) throw new Error(`gemm: ${name} has ld ${view.ld} < its stored row length ${storedCols}`);
  const last = offset + (storedRows - 1) * view.ld + storedCols;
  if (offset < 0 || last > view.data.length) {
    throw new Error(
      `gemm: ${name} [${rows}, ${cols}]${view.transposed ? ' (transposed)' : ''} at offset ${offset}, ld ${view.ld} ` +
        `needs ${last} values, has ${view.data.length}`,
    );
  }
}

/**
 * Packs the depth × width block starting at (depth0, width0) of an operand into panels of `side` lanes:
 * out[panel·depth·side + p·side + lane] = op(X)(depth0 + p, width0 + panel·side + lane) for B (depth = k rows),
 * or op(X)(width0 + …, depth0 + p) for A. `laneContiguous` says whether consecutive lanes are adjacent in memory.
 */
function packPanels(
  view: MatrixView,
  laneContiguous: boolean,
  depth0: number,
  width0: number,
  depth: number,
  width: number,
  side: number,
  out: Float64Array,
): void {
  const data = view.data;
  const ld = view.ld;
  const base = view.offset ?? 0;
  // Stride between consecutive lanes and between consecutive depths, in the stored array.
  const laneStride = laneContiguous ? 1 : ld;
  const depthStride = laneContiguous ? ld : 1;
  let o = 0;
  for (let w = 0; w < width; w += side) {
    const lanes = Math.min(side, width - w);
    const start = base + depth0 * depthStride + (width0 + w) * laneStride;
    if (lanes === side && side === 4) {
      for (let p = 0; p < depth; p++) {
        const s = start + p * depthStride;
        out[o] = data[s]!;
        out[o + 1] = data[s + laneStride]!;
        out[o + 2] = data[s + 2 * laneStride]!;
        out[o + 3] = data[s + 3 * laneStride]!;
        o += 4;
      }
    } else {
      for (let p = 0; p < depth; p++) {
        const s = start + p * depthStride;
        for (let lane = 0; lane < side; lane++) out[o + lane] = lane < lanes ? data[s + lane * laneStride]! : 0;
        o += side;
      }
    }
  }
}

function macroKernel(
  mc: number,
  nc: number,
  kc: number,
  ic: number,
  jc: number,
  c: Float64Array,
  cOffset: number,
  ldc: number,
  upperOnly: boolean,
): void {
  const a = packedA;
  const b = packedB;
  for (let jr = 0; jr < nc; jr += NR) {
    const bBase = (jr / NR) * kc * NR;
    const cols = Math.min(NR, nc - jr);
    for (let ir = 0; ir < mc; ir += MR) {
      // A micro-tile whose first row is below its last column's diagonal is wholly in the lower triangle.
      if (upperOnly && ic + ir > jc + jr + cols - 1) break;
      const aBase = (ir / MR) * kc * MR;
      let c00 = 0,
        c01 = 0,
        c02 = 0,
        c03 = 0;
      let c10 = 0,
        c11 = 0,
        c12 = 0,
        c13 = 0;
      let c20 = 0,
        c21 = 0,
        c22 = 0,
        c23 = 0;
      let c30 = 0,
        c31 = 0,
        c32 = 0,
        c33 = 0;
      let ai = aBase;
      let bi = bBase;
      for (let p = 0; p < kc; p++) {
        const a0 = a[ai]!,
          a1 = a[ai + 1]!,
          a2 = a[ai + 2]!,
          a3 = a[ai + 3]!;
        const b0 = b[bi]!,
          b1 = b[bi + 1]!,
          b2 = b[bi + 2]!,
          b3 = b[bi + 3]!;
        c00 += a0 * b0;
        c01 += a0 * b1;
        c02 += a0 * b2;
        c03 += a0 * b3;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c12 += a1 * b2;
        c13 += a1 * b3;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c22 += a2 * b2;
        c23 += a2 * b3;
        c30 += a3 * b0;
        c31 += a3 * b1;
        c32 += a3 * b2;
        c33 += a3 * b3;
        ai += 4;
        bi += 4;
      }
      const rows = Math.min(MR, mc - ir);
      const row0 = cOffset + (ic + ir) * ldc + jc + jr;
      if (rows === MR && cols === NR) {
        let r = row0;
        c[r] += c00;
        c[r + 1] += c01;
        c[r + 2] += c02;
        c[r + 3] += c03;
        r += ldc;
        c[r] += c10;
        c[r + 1] += c11;
        c[r + 2] += c12;
        c[r + 3] += c13;
        r += ldc;
        c[r] += c20;
        c[r + 1] += c21;
        c[r + 2] += c22;
        c[r + 3] += c23;
        r += ldc;
        c[r] += c30;
        c[r + 1] += c31;
        c[r + 2] += c32;
        c[r + 3] += c33;
      } else {
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) c[row0 + i * ldc + j] += tile[i * NR + j]!;
      }
    }
  }
}
