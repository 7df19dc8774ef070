import { describe, expect, test } from 'vitest';
import type { TokenBatch } from '../../src/linalg/backend';
import { cpuBackend } from '../../src/linalg/cpu/backend';
import { rotationForm } from '../../src/linalg/cpu/rotated-gradients';
import {
  frobenius,
  matmul,
  maxAbs,
  maxAbsDifference,
  mulberry32,
  randomMask,
  randomMatrix,
  randomOrthogonal,
  transpose,
  type Rng,
} from '../helpers/matrices';

const backend = cpuBackend();
const AWKWARD = [1, 7, 33, 130];

/** A random batch plus the plain arrays it was made from, so the tests can write the formulas out naively. */
function randomBatch(
  rng: Rng,
  sequences: number,
  tokens: number,
  dIn: number,
  dOut: number,
  appendOnes: boolean,
  masked = true,
) {
  const activations = randomMatrix(rng, sequences * tokens, dIn);
  const gradients = randomMatrix(rng, sequences * tokens, dOut);
  const mask = masked ? randomMask(rng, sequences * tokens) : null;
  const batch: TokenBatch = {
    activations: backend.upload(activations, [sequences, tokens, dIn]),
    gradients: backend.upload(gradients, [sequences, tokens, dOut]),
    mask: mask === null ? null : backend.upload(mask, [sequences, tokens]),
    appendOnes,
  };
  const dInPrime = dIn + (appendOnes ? 1 : 0);
  const a = (token: number) =>
    Array.from({ length: dInPrime }, (_, j) => (j < dIn ? activations[token * dIn + j]! : 1));
  const g = (token: number) => Array.from(gradients.subarray(token * dOut, (token + 1) * dOut));
  const m = (token: number) => (mask === null ? 1 : mask[token]!);
  /** G(n) = Σ_t m g ãᵀ as an explicit sum of outer products. */
  const sequenceGradient = (n: number) => {
    const out = new Float64Array(dOut * dInPrime);
    for (let t = 0; t < tokens; t++) {
      const token = n * tokens + t;
      const [gt, at] = [g(token), a(token)];
      for (let i = 0; i < dOut; i++)
        for (let j = 0; j < dInPrime; j++) out[i * dInPrime + j]! += m(token) * gt[i]! * at[j]!;
    }
    return out;
  };
  return { batch, dInPrime, a, g, m, sequenceGradient };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, relative = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  expect(maxAbsDifference(actual, expected)).toBeLessThanOrEqual(relative * Math.max(1, maxAbs(expected)));
}

function dot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]! * y[i]!;
  return sum;
}

describe('tensors', () => {
  test('upload/read round trip copies, zeros is zero, released tensors refuse use', async () => {
    const source = [1, 2, 3, 4, 5, 6];
    const t = backend.upload(source, [2, 3]);
    source[0] = 99;
    expect([...(await backend.read(t))]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.size).toBe(6);
    expect([...(await backend.read(backend.zeros([2, 2])))]).toEqual([0, 0, 0, 0]);
    backend.release(t);
    await expect(backend.read(t)).rejects.toThrow(/used after release/);
    expect(() => backend.upload([1, 2, 3], [2, 2])).toThrow(
      /CpuBackend\.upload: 3 values do not fill shape \[2, 2\] \(4 elements\)/,
    );
  });
});

describe('covariance', () => {
  for (const d of AWKWARD) {
    test(`masked accumulation with a ones column over two batches, d = ${d}`, async () => {
      const rng = mulberry32(d);
      const acc = backend.zeros([d + 1, d + 1]);
      const expected = new Float64Array((d + 1) * (d + 1));
      let count = 0;
      for (const [sequences, tokens] of [
        [3, 5],
        [2, 7],
      ] as const) {
        const { batch, a, m } = randomBatch(rng, sequences, tokens, d, 1, true);
        backend.accumulateCovariance(acc, batch.activations, batch.mask, true);
        for (let token = 0; token < sequences * tokens; token++) {
          if (m(token) === 0) continue;
          count++;
          const at = a(token);
          for (let i = 0; i <= d; i++) for (let j = 0; j <= d; j++) expected[i * (d + 1) + j]! += at[i]! * at[j]!;
        }
      }
      const upper = await backend.read(acc);
      for (let i = 0; i <= d; i++)
        for (let j = i; j <= d; j++) expect(upper[i * (d + 1) + j]).toBeCloseTo(expected[i * (d + 1) + j]!, 10);
      const covariance = await backend.read(backend.finalizeCovariance(acc, count));
      expectClose(
        covariance,
        expected.map((value) => value / count),
      );
      // The ones column makes the corner the fraction of counted tokens (1) and the last row the mean activation.
      expect(covariance[(d + 1) * (d + 1) - 1]).toBeCloseTo(1, 14);
    });
  }

  test('[rows, d] input with a [rows] mask; padding rows with huge values contribute nothing; no ones column', async () => {
    const d = 7;
    const x = randomMatrix(mulberry32(1), 10, d);
    const mask = new Float64Array(10).fill(1);
    for (const padded of [2, 9]) {
      mask[padded] = 0;
      x.fill(1e30, padded * d, (padded + 1) * d);
    }
    const acc = backend.zeros([d, d]);
    backend.accumulateCovariance(acc, backend.upload(x, [10, d]), backend.upload(mask, [10]), false);
    const kept = x.filter((_, k) => mask[Math.floor(k / d)] === 1);
    const expected = matmul(transpose(kept, 8, d), kept, d, 8, d);
    expectClose(await backend.read(backend.finalizeCovariance(acc, 1)), expected);
  });

  test('shape errors name the method and the shapes', () => {
    const x = backend.zeros([2, 3, 4]);
    expect(() => backend.accumulateCovariance(backend.zeros([4, 4]), x, null, true)).toThrow(
      /CpuBackend\.accumulateCovariance: acc has shape \[4, 4\], expected \[5, 5\]/,
    );
    expect(() => backend.accumulateCovariance(backend.zeros([4, 4]), x, backend.zeros([3, 2]), false)).toThrow(
      /accumulateCovariance: mask has shape \[3, 2\], expected \[rows0, rows1\], but rows0 = 2 from x \[2, 3, 4\]/,
    );
    expect(() => backend.finalizeCovariance(backend.zeros([2, 2]), 0)).toThrow(/finalizeCovariance: count must be > 0/);
  });
});

describe('per-sequence gradients, rotation, eigenvalue correction', () => {
  for (const [dIn, dOut] of [
    [1, 7],
    [7, 1],
    [33, 7],
    [130, 33],
  ] as const) {
    test(`sequenceGradients matches Σ_t m g ãᵀ, dIn = ${dIn}, dOut = ${dOut}`, async () => {
      const { batch, dInPrime, sequenceGradient } = randomBatch(mulberry32(dIn + dOut), 3, 5, dIn, dOut, true);
      const result = backend.sequenceGradients(batch);
      expect(result.shape).toEqual([3, dOut, dInPrime]);
      const data = await backend.read(result);
      for (let n = 0; n < 3; n++)
        expectClose(data.subarray(n * dOut * dInPrime, (n + 1) * dOut * dInPrime), sequenceGradient(n));
    });

    test(`rotate into and back, and accumulateLambda, dIn = ${dIn}, dOut = ${dOut}`, async () => {
      const rng = mulberry32(3 * dIn + dOut);
      const { batch, dInPrime, sequenceGradient } = randomBatch(rng, 2, 4, dIn, dOut, false);
      const [qS, qA] = [randomOrthogonal(rng, dOut), randomOrthogonal(rng, dInPrime)];
      const [qST, qAT] = [backend.upload(qS, [dOut, dOut]), backend.upload(qA, [dInPrime, dInPrime])];
      const gradients = backend.sequenceGradients(batch);
      const rotated = await backend.read(backend.rotate(gradients, qST, qAT, 'into'));
      const lambda = backend.zeros([dOut, dInPrime]);
      backend.accumulateLambda(lambda, batch, qST, qAT);
      const expectedLambda = new Float64Array(dOut * dInPrime);
      for (let n = 0; n < 2; n++) {
        const expected = matmul(
          matmul(transpose(qS, dOut, dOut), sequenceGradient(n), dOut, dOut, dInPrime),
          qA,
          dOut,
          dInPrime,
          dInPrime,
        );
        expectClose(rotated.subarray(n * dOut * dInPrime, (n + 1) * dOut * dInPrime), expected);
        expected.forEach((value, i) => (expectedLambda[i]! += value * value));
      }
      expectClose(await backend.read(lambda), expectedLambda);
      const back = backend.rotate(backend.upload(rotated, gradients.shape), qST, qAT, 'back');
      expectClose(await backend.read(back), await backend.read(gradients));
    });
  }

  /** Q_Sᵀ G(n) Q_A written out with the naive G(n). */
  const expectedRotated =
    (sequenceGradient: (n: number) => Float64Array, qS: Float64Array, qA: Float64Array) =>
    (n: number, dOut: number, dInPrime: number) =>
      matmul(
        matmul(transpose(qS, dOut, dOut), sequenceGradient(n), dOut, dOut, dInPrime),
        qA,
        dOut,
        dInPrime,
        dInPrime,
      );

  // [dIn, dOut, tokens]: the token form (few tokens, wide layer) and the sequence form (many tokens, narrow layer).
  for (const [dIn, dOut, tokens, form] of [
    [33, 40, 6, 'token'],
    [1, 7, 6, 'sequence'],
    [130, 33, 9, 'token'],
  ] as const) {
    test(`rotatedGradients = Q_Sᵀ G(n) Q_A in the ${form} form, dIn = ${dIn}, dOut = ${dOut}, T = ${tokens}`, async () => {
      const rng = mulberry32(5 * dIn + dOut);
      const { batch, dInPrime, sequenceGradient } = randomBatch(rng, 3, tokens, dIn, dOut, true);
      expect(rotationForm(tokens, dOut, dInPrime)).toBe(form);
      const [qS, qA] = [randomOrthogonal(rng, dOut), randomOrthogonal(rng, dInPrime)];
      const [qST, qAT] = [backend.upload(qS, [dOut, dOut]), backend.upload(qA, [dInPrime, dInPrime])];
      const result = backend.rotatedGradients(batch, qST, qAT);
      expect(result.shape).toEqual([3, dOut, dInPrime]);
      const data = await backend.read(result);
      const expected = expectedRotated(sequenceGradient, qS, qA);
      for (let n = 0; n < 3; n++)
        expectClose(data.subarray(n * dOut * dInPrime, (n + 1) * dOut * dInPrime), expected(n, dOut, dInPrime));
      // The same as rotating the sequence form's G(n), the path it replaces.
      expectClose(data, await backend.read(backend.rotate(backend.sequenceGradients(batch), qST, qAT, 'into')));
    });
  }

  test('rotatedGradients picks the form per sequence: 1 unmasked token (token form) beside 6 (sequence form)', async () => {
    const [dIn, dOut, tokens] = [1, 7, 6];
    const rng = mulberry32(77);
    const { batch: unmasked, dInPrime } = randomBatch(rng, 2, tokens, dIn, dOut, true, false);
    expect(rotationForm(1, dOut, dInPrime)).toBe('token');
    expect(rotationForm(6, dOut, dInPrime)).toBe('sequence');
    // Sequence 0 keeps one token (weight 0.5), sequence 1 all six (fractional weights, as a loss mask may give).
    const mask = [0, 0, 0.5, 0, 0, 0, 1, 0.25, 1, 2, 1, 1];
    const batch: TokenBatch = { ...unmasked, mask: backend.upload(mask, [2, tokens]) };
    const [qS, qA] = [randomOrthogonal(rng, dOut), randomOrthogonal(rng, dInPrime)];
    const [qST, qAT] = [backend.upload(qS, [dOut, dOut]), backend.upload(qA, [dInPrime, dInPrime])];
    const data = await backend.read(backend.rotatedGradients(batch, qST, qAT));
    const g = await backend.read(backend.sequenceGradients(batch));
    const size = dOut * dInPrime;
    for (let n = 0; n < 2; n++) {
      const expected = matmul(
        matmul(transpose(qS, dOut, dOut), g.subarray(n * size, (n + 1) * size), dOut, dOut, dInPrime),
        qA,
        dOut,
        dInPrime,
        dInPrime,
      );
      expectClose(data.subarray(n * size, (n + 1) * size), expected);
    }
    expect(maxAbs(data.subarray(0, size))).toBeGreaterThan(0);
  });

  test('shape mismatch in rotatedGradients names the basis and the batch', () => {
    const { batch } = randomBatch(mulberry32(3), 2, 3, 4, 5, true);
    expect(() => backend.rotatedGradients(batch, backend.zeros([5, 5]), backend.zeros([4, 4]))).toThrow(
      /CpuBackend\.rotatedGradients: qA has shape \[4, 4\], expected \[5, 5\]/,
    );
  });

  test('shape mismatch in rotate names both shapes', () => {
    expect(() =>
      backend.rotate(backend.zeros([2, 3, 4]), backend.zeros([3, 3]), backend.zeros([5, 5]), 'into'),
    ).toThrow(
      /CpuBackend\.rotate: qA has shape \[5, 5\], expected \[dIn, dIn\], but dIn = 4 from matrices \[2, 3, 4\]/,
    );
  });
});

describe('damping and preconditioning', () => {
  test('dampingValue: absolute as given, heuristic = factor · mean(Λ)', async () => {
    const lambda = backend.upload([1, 2, 3, 6], [2, 2]);
    expect(await backend.dampingValue(lambda, { kind: 'absolute', value: 0.25 })).toBe(0.25);
    expect(await backend.dampingValue(lambda, { kind: 'heuristic', factor: 0.1 })).toBeCloseTo(0.3, 15);
    await expect(backend.dampingValue(lambda, { kind: 'absolute', value: -1 })).rejects.toThrow(
      /absolute damping must be finite and ≥ 0/,
    );
  });

  for (const [dIn, dOut] of [
    [1, 1],
    [7, 33],
    [33, 7],
  ] as const) {
    test(`with a K-FAC Λ = λ_S λ_Aᵀ, P solves S P A + δ P = G (dense Kronecker identity), dIn = ${dIn}, dOut = ${dOut}`, async () => {
      const rng = mulberry32(dIn * 7 + dOut);
      const [qS, qA] = [randomOrthogonal(rng, dOut), randomOrthogonal(rng, dIn)];
      const lambdaS = Array.from({ length: dOut }, () => 0.1 + rng());
      const lambdaA = Array.from({ length: dIn }, () => 0.1 + rng());
      const lambda = new Float64Array(dOut * dIn).map((_, k) => lambdaS[Math.floor(k / dIn)]! * lambdaA[k % dIn]!);
      const queries = randomMatrix(rng, 3 * dOut * dIn, 1);
      const damping = { kind: 'heuristic', factor: 0.1 } as const;
      const delta = (0.1 * lambda.reduce((s, v) => s + v, 0)) / lambda.length;
      const p = await backend.read(
        backend.precondition(
          backend.upload(queries, [3, dOut, dIn]),
          backend.upload(qS, [dOut, dOut]),
          backend.upload(qA, [dIn, dIn]),
          backend.upload(lambda, [dOut, dIn]),
          damping,
        ),
      );
      const fromSpectrum = (q: Float64Array, values: number[], d: number) =>
        matmul(
          matmul(
            q,
            new Float64Array(d * d).map((_, k) => (k % (d + 1) === 0 ? values[k / (d + 1)]! : 0)),
            d,
            d,
            d,
          ),
          transpose(q, d, d),
          d,
          d,
          d,
        );
      const [s, a] = [fromSpectrum(qS, lambdaS, dOut), fromSpectrum(qA, lambdaA, dIn)];
      for (let q = 0; q < 3; q++) {
        const pq = p.subarray(q * dOut * dIn, (q + 1) * dOut * dIn);
        const applied = matmul(matmul(s, pq, dOut, dOut, dIn), a, dOut, dIn, dIn).map(
          (value, i) => value + delta * pq[i]!,
        );
        expectClose(applied, queries.subarray(q * dOut * dIn, (q + 1) * dOut * dIn), 1e-11);
      }
    });
  }

  test('non-positive Λ + δ is refused with its position', () => {
    const eye = backend.upload([1], [1, 1]);
    expect(() =>
      backend.precondition(backend.zeros([1, 1, 1]), eye, eye, backend.zeros([1, 1]), { kind: 'absolute', value: 0 }),
    ).toThrow(/precondition: Λ \+ δ = 0 at \(0, 0\) is not positive/);
  });
});

describe('scores and low-rank scores', () => {
  for (const [dIn, dOut, appendOnes] of [
    [1, 1, false],
    [7, 33, true],
    [33, 7, true],
    [130, 7, false],
  ] as const) {
    test(`pairwise = ⟨P_q, G(n)⟩, per-token sums to pairwise, padding = 0; dIn = ${dIn}, dOut = ${dOut}, ones = ${appendOnes}`, async () => {
      const rng = mulberry32(dIn + 100 * dOut);
      const [queries, sequences, tokens] = [2, 3, 7];
      const { batch, dInPrime, m, sequenceGradient } = randomBatch(rng, sequences, tokens, dIn, dOut, appendOnes);
      const p = randomMatrix(rng, queries * dOut * dInPrime, 1);
      const pT = backend.upload(p, [queries, dOut, dInPrime]);
      const pairwise = await backend.read(backend.scores(pT, batch, false));
      const perToken = await backend.read(backend.scores(pT, batch, true));
      for (let q = 0; q < queries; q++) {
        const pq = p.subarray(q * dOut * dInPrime, (q + 1) * dOut * dInPrime);
        for (let n = 0; n < sequences; n++) {
          const expected = dot(pq, sequenceGradient(n));
          expect(pairwise[q * sequences + n]).toBeCloseTo(expected, 9);
          let sum = 0;
          for (let t = 0; t < tokens; t++) {
            const score = perToken[(q * sequences + n) * tokens + t]!;
            if (m(n * tokens + t) === 0) expect(score).toBe(0);
            sum += score;
          }
          expect(sum).toBeCloseTo(expected, 9);
        }
      }
    });
  }

  for (const [dOut, dIn] of [
    [7, 33],
    [33, 7],
    [1, 7],
    [130, 33],
  ] as const) {
    test(`lowRank: at full rank u vᵀ = P and the scores are reproduced; at rank k the error is the discarded singular values (dOut = ${dOut}, dIn = ${dIn})`, async () => {
      const rng = mulberry32(dOut * 13 + dIn);
      const full = Math.min(dOut, dIn);
      // P = U diag(σ) Vᵀ with known, distinct singular values σ_1 > σ_2 > ….
      const sigma = Array.from({ length: full }, (_, i) => 2 ** -i);
      const [left, right] = [randomOrthogonal(rng, dOut), randomOrthogonal(rng, dIn)];
      const p = new Float64Array(dOut * dIn);
      for (let i = 0; i < dOut; i++) {
        for (let j = 0; j < dIn; j++)
          for (let r = 0; r < full; r++) p[i * dIn + j]! += left[i * dOut + r]! * sigma[r]! * right[j * dIn + r]!;
      }
      const pT = backend.upload(p, [1, dOut, dIn]);
      const { batch } = randomBatch(rng, 2, 5, dIn, dOut, false);
      for (const rank of [...new Set([1, Math.ceil(full / 2), full])]) {
        const { u, v } = await backend.lowRank(pT, rank);
        expect(u.shape).toEqual([1, dOut, rank]);
        expect(v.shape).toEqual([1, dIn, rank]);
        const approx = matmul(await backend.read(u), transpose(await backend.read(v), dIn, rank), dOut, rank, dIn);
        const discarded = Math.sqrt(sigma.slice(rank).reduce((s, x) => s + x * x, 0));
        expect(Math.abs(frobenius(approx.map((x, i) => x - p[i]!)) - discarded)).toBeLessThanOrEqual(1e-12);
        const expectedScores = await backend.read(backend.scores(backend.upload(approx, [1, dOut, dIn]), batch, true));
        expectClose(await backend.read(backend.lowRankScores(u, v, batch, true)), expectedScores, 1e-12);
        if (rank === full) expectClose(expectedScores, await backend.read(backend.scores(pT, batch, true)), 1e-12);
      }
      await expect(backend.lowRank(pT, full + 1)).rejects.toThrow(
        new RegExp(`lowRank: rank must be an integer in \\[1, ${full}\\]`),
      );
    });
  }

  test('lowRankScores and scores refuse mismatched shapes', () => {
    const { batch } = randomBatch(mulberry32(9), 2, 3, 4, 5, true);
    expect(() => backend.scores(backend.zeros([1, 5, 4]), batch, false)).toThrow(
      /CpuBackend\.scores: preconditioned has shape \[1, 5, 4\], expected \[Q, 5, 5\]/,
    );
    expect(() => backend.lowRankScores(backend.zeros([1, 5, 2]), backend.zeros([2, 5, 2]), batch, false)).toThrow(
      /lowRankScores: v has shape \[2, 5, 2\], expected \[Q, 5, k\], but Q = 1 from u \[1, 5, 2\]/,
    );
  });
});
