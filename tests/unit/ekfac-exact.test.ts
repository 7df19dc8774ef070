/**
 * Exactness of the EK-FAC stages in float64 on the CPU backend, against dense matrices built independently:
 *  1. Deep linear network, summed MSE, Fisher expanded exactly (one pseudo-sample per output direction, see
 *     deepLinearFisherModel): the per-sequence Fisher of layer l, F_l = (1/#seq) Σ_i vec(G_i) vec(G_i)ᵀ, factorises
 *     exactly as A ⊗ S because its pseudo-gradients do not depend on the input; so EK-FAC's
 *     (Q_S⊗Q_A) diag(Λ) (Q_S⊗Q_A)ᵀ — and K-FAC's — equals GN_l / #seq, where GN_l = Σ_n J_nᵀ 2I J_n is the exact
 *     Gauss–Newton block of layer l (J_n computed by differencing the network, which is affine in W_l). Tested ≤ 1e-10.
 *  2. For any model (here the nonlinear token LM with padding): Λ = diag((Q_S⊗Q_A)ᵀ F (Q_S⊗Q_A)) with F the dense
 *     per-sequence Fisher, i.e. EK-FAC's eigenvalues are the exact Fisher's diagonal in the Kronecker eigenbasis.
 *  3. Pairwise scores equal Σ_l vec(G_q)ᵀ M_l⁻¹ vec(G_n) with M_l the strategy's matrix materialised and solved
 * densely.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { runAttribution } from '../../src/influence/pipeline';
import {
  DEFAULT_CONFIG,
  type AttributionConfig,
  type AttributionResult,
  type ExampleSet,
} from '../../src/influence/types';
import { type HostMatrix } from '../../src/core/schema';
import { type Strategy } from '../../src/core/strategy';
import { choleskySolve, dot, ekfacMatrix, kron, maxRelativeError, outer } from '../helpers/exact-dense';
import {
  chainForward,
  deepLinearFisherModel,
  randomLinear,
  seededRandom,
  type LinearParams,
} from '../helpers/exact-models';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource, type ExactModel } from '../helpers/exact-source';

const backend = new CpuBackend();
const CONFIG: AttributionConfig = {
  ...DEFAULT_CONFIG,
  fisher: 'empirical',
  batchSizes: { fit: 5, train: 6, query: 3, batchesPerChunk: 2 },
};

function set(role: 'train' | 'query', count: number): ExampleSet {
  return { role, examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })) };
}

/** vec_r of G = Σ_t g ãᵀ for one example and layer: [dOut × dIn'] row-major, bias column last. */
function sequenceGradient(model: ExactModel, role: 'train' | 'query', index: number, layer: number): Float64Array {
  const info = model.layers[layer];
  const dIn = info.dIn + (info.hasBias ? 1 : 0);
  const example = model.example(role, index, 'given', 0);
  const { a, g } = example.layers[layer];
  const out = new Float64Array(info.dOut * dIn);
  for (let t = 0; t < example.length; t++)
    for (let i = 0; i < info.dOut; i++)
      for (let j = 0; j < dIn; j++) out[i * dIn + j] += g[t * info.dOut + i] * (j < info.dIn ? a[t * info.dIn + j] : 1);
  return out;
}

function layerMatrix(result: AttributionResult, l: number): { qS: HostMatrix; qA: HostMatrix; lambda: HostMatrix } {
  const f = result.factors.layers[l];
  const lambda = { shape: f.lambdaSum!.shape, data: f.lambdaSum!.data.map((v) => v / f.lambdaCount!) };
  return { qS: f.gradientEigenvectors!, qA: f.activationEigenvectors!, lambda };
}

describe('deep linear network, summed MSE: EK-FAC of each layer is its exact Gauss–Newton block', () => {
  const random = seededRandom(11);
  const layers: LinearParams[] = [
    randomLinear(random, 'l1', 4, 5, false, 'none'),
    randomLinear(random, 'l2', 5, 3, true, 'none'),
    randomLinear(random, 'l3', 3, 2, false, 'none'),
  ];
  const inputs = Array.from({ length: 9 }, () => Float64Array.from({ length: 4 }, () => random.normal()));
  const targets = Array.from({ length: 9 }, () => Float64Array.from({ length: 2 }, () => random.normal()));
  const outputs = 2;
  const model = deepLinearFisherModel(layers, {
    x: { train: inputs, query: inputs.slice(0, 2) },
    y: { train: targets, query: targets.slice(0, 2) },
  });

  /** GN_l = Σ_n J_nᵀ 2I J_n with J_n[:, p] = f(θ + e_p) − f(θ) (exact: f is affine in layer l's parameters). */
  function gaussNewtonBlock(l: number): Float64Array {
    const layer = layers[l];
    const dIn = layer.dIn + (layer.bias ? 1 : 0);
    const p = layer.dOut * dIn;
    const gn = new Float64Array(p * p);
    for (const x of inputs) {
      const base = chainForward(layers, x).post[layers.length - 1];
      const jacobian: Float64Array[] = [];
      for (let i = 0; i < layer.dOut; i++) {
        for (let j = 0; j < dIn; j++) {
          const weight = layer.weight.slice();
          const bias = layer.bias?.slice() ?? null;
          if (j < layer.dIn) weight[i * layer.dIn + j] += 1;
          else bias![i] += 1;
          const perturbed = layers.map((q, k) => (k === l ? { ...q, weight, bias } : q));
          const out = chainForward(perturbed, x).post[layers.length - 1];
          jacobian.push(out.map((v, k) => v - base[k]));
        }
      }
      for (let r = 0; r < p; r++) for (let c = 0; c < p; c++) gn[r * p + c] += 2 * dot(jacobian[r], jacobian[c]);
    }
    return gn;
  }

  for (const strategy of ['ekfac', 'kfac'] as const) {
    it(`${strategy}: (Q_S⊗Q_A) diag(Λ) (Q_S⊗Q_A)ᵀ = GN_l / #sequences to 1e-10`, async () => {
      const sequences = inputs.length * outputs;
      const result = await runAttribution(
        { ...CONFIG, strategy },
        {
          backend,
          source: new ExactGradientSource(model),
          trainSet: set('train', sequences),
          querySet: set('query', 1),
        },
      );
      layers.forEach((layer, l) => {
        const f = result.factors.layers[l];
        const lambda =
          strategy === 'ekfac'
            ? layerMatrix(result, l).lambda
            : outer(f.gradientEigenvalues!.data, f.activationEigenvalues!.data);
        const ours = ekfacMatrix(f.gradientEigenvectors!, f.activationEigenvectors!, lambda, 0);
        const exact = gaussNewtonBlock(l).map((v) => v / sequences);
        expect(maxRelativeError(ours, exact), `layer ${layer.name}`).toBeLessThan(1e-10);
      });
    });
  }
});

describe('EK-FAC eigenvalues are the exact Fisher diagonal in the Kronecker eigenbasis (token LM, padding)', () => {
  it('Λ = diag((Q_S⊗Q_A)ᵀ F (Q_S⊗Q_A)), F = mean_n vec(G_n) vec(G_n)ᵀ, to 1e-12', async () => {
    const fixture = await tokenLmFixture();
    const train = 12;
    const result = await runAttribution(CONFIG, {
      backend,
      source: new ExactGradientSource(fixture.model),
      trainSet: set('train', train),
      querySet: set('query', 1),
    });
    fixture.model.layers.forEach((info, l) => {
      const { qS, qA, lambda } = layerMatrix(result, l);
      const basis = kron(qS.data, qS.shape[0], qA.data, qA.shape[0]);
      const p = lambda.data.length;
      const rotated = new Float64Array(p);
      for (let n = 0; n < train; n++) {
        const g = sequenceGradient(fixture.model, 'train', n, l);
        // Column c of the basis is the c-th Kronecker eigenvector: (basisᵀ vec G)_c² summed over n, / N.
        for (let c = 0; c < p; c++) {
          let s = 0;
          for (let r = 0; r < p; r++) s += basis[r * p + c] * g[r];
          rotated[c] += (s * s) / train;
        }
      }
      expect(maxRelativeError(lambda.data, rotated), info.name).toBeLessThan(1e-12);
    });
  });
});

/** P − σ_min u vᵀ: the best rank-(min − 1) approximation; v by inverse iteration on PᵀP (independent of src/linalg). */
function dropSmallestSingularPair(p: Float64Array, rows: number, cols: number): Float64Array {
  expect(cols).toBeLessThanOrEqual(rows);
  const gram = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++)
    for (let j = 0; j < cols; j++)
      for (let r = 0; r < rows; r++) gram[i * cols + j] += p[r * cols + i] * p[r * cols + j];
  let v = new Float64Array(cols).fill(1);
  for (let iteration = 0; iteration < 200; iteration++) {
    const next = choleskySolve(gram, v, cols);
    const norm = Math.sqrt(dot(next, next));
    v = next.map((x) => x / norm);
  }
  const pv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) pv[r] += p[r * cols + j] * v[j];
  return p.map((x, k) => x - pv[Math.floor(k / cols)] * v[k % cols]);
}

describe('pairwise scores equal dense solves with each strategy’s materialised matrix (token LM, padding)', () => {
  const cases: { strategy: Strategy; queryRank: number | null }[] = [
    { strategy: 'ekfac', queryRank: null },
    { strategy: 'kfac', queryRank: null },
    { strategy: 'diagonal', queryRank: null },
    { strategy: 'identity', queryRank: null },
    // Rank 8: 'down' (8 × 17) and 'unembed' (12 × 8) keep their full P; 'up' (16 × 9) drops its smallest singular pair.
    { strategy: 'ekfac', queryRank: 8 },
  ];
  for (const { strategy, queryRank } of cases) {
    it(`${strategy}${queryRank ? `, query rank ${queryRank}` : ''}`, async () => {
      const fixture = await tokenLmFixture();
      const train = 10;
      const queries = 3;
      const result = await runAttribution(
        { ...CONFIG, strategy, queryRank },
        {
          backend,
          source: new ExactGradientSource(fixture.model),
          trainSet: set('train', train),
          querySet: set('query', queries),
        },
      );
      const expected = new Float64Array(queries * train);
      fixture.model.layers.forEach((info, l) => {
        const dIn = info.dIn + (info.hasBias ? 1 : 0);
        const p = info.dOut * dIn;
        const damping = result.layers[l].damping;
        let matrix: Float64Array;
        if (strategy === 'identity') {
          matrix = new Float64Array(p * p).map((_, i) => (i % (p + 1) === 0 ? 1 : 0));
        } else if (strategy === 'diagonal') {
          const f = result.factors.layers[l];
          matrix = new Float64Array(p * p);
          for (let i = 0; i < p; i++) matrix[i * p + i] = f.lambdaSum!.data[i] / f.lambdaCount! + damping;
        } else {
          const f = result.factors.layers[l];
          const lambda =
            strategy === 'ekfac'
              ? layerMatrix(result, l).lambda
              : outer(f.gradientEigenvalues!.data, f.activationEigenvalues!.data);
          matrix = ekfacMatrix(f.gradientEigenvectors!, f.activationEigenvectors!, lambda, damping);
        }
        for (let q = 0; q < queries; q++) {
          let solved = choleskySolve(matrix, sequenceGradient(fixture.model, 'query', q, l), p);
          if (queryRank !== null && queryRank < Math.min(info.dOut, dIn)) {
            expect(queryRank, 'this oracle drops one singular pair only').toBe(Math.min(info.dOut, dIn) - 1);
            solved = dropSmallestSingularPair(solved, info.dOut, dIn);
          }
          for (let n = 0; n < train; n++)
            expected[q * train + n] += dot(solved, sequenceGradient(fixture.model, 'train', n, l));
        }
      });
      expect(maxRelativeError(result.tau, expected)).toBeLessThan(1e-10);
    });
  }
});
