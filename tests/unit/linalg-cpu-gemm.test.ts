import { describe, expect, test } from 'vitest';
import { cpuBackend } from '../../src/linalg/cpu/backend';
import { gemm } from '../../src/linalg/cpu/gemm';
import { maxAbs, maxAbsDifference, mulberry32, randomMatrix, type Rng } from '../helpers/matrices';

/** The float64 reference: C = op(A) op(B) written out as the definition, one sum per entry. */
function naiveProduct(
  a: Float64Array,
  aT: boolean,
  b: Float64Array,
  bT: boolean,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let l = 0; l < k; l++) sum += (aT ? a[l * m + i]! : a[i * k + l]!) * (bT ? b[j * k + l]! : b[l * n + j]!);
      out[i * n + j] = sum;
    }
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, k: number): void {
  // Each entry sums k products of unit-normal values: rounding grows like k·eps·max|term|, far below 1e-12·k.
  expect(maxAbsDifference(actual, expected)).toBeLessThanOrEqual(
    1e-13 * Math.max(1, k) * Math.max(1, maxAbs(expected)),
  );
}

const ODD = [1, 7, 33, 130, 257];

describe('blocked float64 GEMM against the naive product', () => {
  const rng: Rng = mulberry32(2024);
  // Every odd size on each axis once, with the other two axes varied, and all four transposition variants.
  const shapes: [number, number, number][] = [];
  for (const s of ODD) shapes.push([s, 33, 7], [7, s, 33], [33, 7, s]);
  shapes.push([130, 257, 130], [257, 130, 257], [1, 1, 1], [257, 1, 257]);
  for (const [m, k, n] of shapes) {
    for (const [aT, bT] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      test(`[${m} × ${k}] · [${k} × ${n}], A${aT ? 'ᵀ' : ''} B${bT ? 'ᵀ' : ''}`, () => {
        const a = randomMatrix(rng, m, k);
        const b = randomMatrix(rng, k, n);
        const c = new Float64Array(m * n).fill(NaN); // overwritten, never read, without accumulate
        gemm(
          m,
          n,
          k,
          { data: a, ld: aT ? m : k, transposed: aT },
          { data: b, ld: bT ? k : n, transposed: bT },
          { data: c, ld: n },
        );
        expectClose(c, naiveProduct(a, aT, b, bT, m, k, n), k);
      });
    }
  }

  test('offsets, leading dimensions wider than the rows, and accumulate leave everything outside C untouched', () => {
    const [m, k, n] = [33, 130, 7];
    const [lda, ldb, ldc] = [k + 5, n + 3, n + 9];
    const a = randomMatrix(rng, 1, 11 + m * lda);
    const b = randomMatrix(rng, 1, 4 + k * ldb);
    const c = randomMatrix(rng, 1, 2 + m * ldc);
    const before = c.slice();
    gemm(
      m,
      n,
      k,
      { data: a, offset: 11, ld: lda },
      { data: b, offset: 4, ld: ldb },
      { data: c, offset: 2, ld: ldc },
      { accumulate: true },
    );
    const denseA = Float64Array.from({ length: m * k }, (_, i) => a[11 + Math.floor(i / k) * lda + (i % k)]!);
    const denseB = Float64Array.from({ length: k * n }, (_, i) => b[4 + Math.floor(i / n) * ldb + (i % n)]!);
    const expected = naiveProduct(denseA, false, denseB, false, m, k, n);
    for (let i = 0; i < c.length; i++) {
      const local = i - 2;
      const row = Math.floor(local / ldc);
      const col = local % ldc;
      const inside = local >= 0 && row < m && col < n;
      if (inside) expect(Math.abs(c[i]! - before[i]! - expected[row * n + col]!)).toBeLessThanOrEqual(1e-11);
      else expect(c[i]).toBe(before[i]);
    }
  });

  test('upperOnly computes the upper triangle of XᵀX exactly as the full product does', () => {
    for (const [d, rows] of [
      [257, 33],
      [130, 300],
      [7, 5],
    ]) {
      const x = randomMatrix(rng, rows, d);
      const full = new Float64Array(d * d);
      gemm(d, d, rows, { data: x, ld: d, transposed: true }, { data: x, ld: d }, { data: full, ld: d });
      const upper = new Float64Array(d * d);
      gemm(
        d,
        d,
        rows,
        { data: x, ld: d, transposed: true },
        { data: x, ld: d },
        { data: upper, ld: d },
        { upperOnly: true },
      );
      const reference = naiveProduct(x, true, x, false, d, rows, d);
      for (let i = 0; i < d; i++) {
        for (let j = i; j < d; j++) {
          expect(upper[i * d + j]).toBe(full[i * d + j]);
          expect(Math.abs(upper[i * d + j]! - reference[i * d + j]!)).toBeLessThanOrEqual(1e-12 * rows);
        }
      }
    }
  });

  test('bad views: too short, ld below the row length, transposed C, non-square upperOnly', () => {
    const a = new Float64Array(12);
    const c = new Float64Array(16);
    expect(() => gemm(4, 4, 4, { data: a, ld: 4 }, { data: a, ld: 4 }, { data: c, ld: 4 })).toThrow(
      /gemm: a \[4, 4\] at offset 0, ld 4 needs 16 values, has 12/,
    );
    expect(() => gemm(3, 4, 4, { data: a, ld: 3 }, { data: c, ld: 4 }, { data: c, ld: 4 })).toThrow(
      /gemm: a has ld 3 < its stored row length 4/,
    );
    expect(() => gemm(2, 2, 2, { data: c, ld: 2 }, { data: c, ld: 2 }, { data: c, ld: 2, transposed: true })).toThrow(
      /c must not be transposed/,
    );
    expect(() =>
      gemm(2, 3, 2, { data: c, ld: 2 }, { data: c, ld: 3 }, { data: c, ld: 3 }, { upperOnly: true }),
    ).toThrow(/upperOnly needs a square C/);
  });
});

describe('CpuBackend.pairwiseInner (the sequence form of the scores)', () => {
  const backend = cpuBackend();
  test('out[q, b] = Σ a[q, …]·c[b, …] for odd shapes, against the naive sum', async () => {
    const rng = mulberry32(5);
    for (const [q, b, r, s] of [
      [1, 1, 1, 1],
      [2, 7, 33, 5],
      [7, 33, 130, 3],
      [3, 1, 257, 7],
    ]) {
      const a = randomMatrix(rng, q, r * s);
      const c = randomMatrix(rng, b, r * s);
      const out = await backend.read(backend.pairwiseInner(backend.upload(a, [q, r, s]), backend.upload(c, [b, r, s])));
      const expected = new Float64Array(q * b);
      for (let i = 0; i < q; i++)
        for (let j = 0; j < b; j++)
          for (let x = 0; x < r * s; x++) expected[i * b + j]! += a[i * r * s + x]! * c[j * r * s + x]!;
      expectClose(out, expected, r * s);
    }
  });

  test('trailing shapes that differ are refused, naming both shapes', () => {
    expect(() => backend.pairwiseInner(backend.zeros([2, 3, 4]), backend.zeros([5, 4, 3]))).toThrow(
      /CpuBackend\.pairwiseInner: a is \[2, 3, 4\] and c is \[5, 4, 3\]/,
    );
  });
});
