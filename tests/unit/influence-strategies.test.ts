/**
 * Strategy objects (src/influence/strategies.ts): what each fits, and the diagonal strategy's elementwise path, which
 * must give exactly what the rotation path gave with identity bases (float64: multiplying by 1 and adding 0 is
 * exact). The float64 eigen refinement (config.refineEigen) turns a float32-grade eigenbasis into a float64 one.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import type { EighOptions, Eigen, Tensor } from '../../src/linalg/backend';
import { runAttribution } from '../../src/influence/pipeline';
import { STRATEGIES, strategyOf } from '../../src/influence/strategies';
import {
  DEFAULT_CONFIG,
  type AttributionConfig,
  type AttributionResult,
  type ExampleSet,
} from '../../src/influence/types';
import { tokenLmFixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';
import { seededRandom } from '../helpers/exact-models';

const backend = new CpuBackend();

function identity(d: number): Float64Array {
  return Float64Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0));
}

describe('strategy objects', () => {
  it('say which factors they need, as kronfluence’s factor configs do', () => {
    const needs = Object.values(STRATEGIES).map((s) => [s.name, s.needsEigenbasis, s.needsLambda]);
    expect(needs).toEqual([
      ['identity', false, false],
      ['diagonal', false, true],
      ['kfac', true, false],
      ['ekfac', true, true],
    ]);
    expect(() => strategyOf('newton')).toThrow(/unknown strategy "newton" \(one of identity, diagonal, kfac, ekfac\)/);
    expect(() => strategyOf('toString')).toThrow(/unknown strategy "toString"/);
  });

  it('diagonal preconditions in the parameter basis: no bases, Λ as fitted', () => {
    const lambda = { shape: [2, 3], data: Float64Array.of(1, 2, 3, 4, 5, 6) };
    const layer = { name: 'fc', dIn: 2, dOut: 2, hasBias: true };
    expect(STRATEGIES.diagonal.layer({ lambda: [lambda] }, 0, layer)).toEqual({ lambda, bases: null });
    expect(STRATEGIES.identity.layer({}, 0, layer)).toBeNull();
    expect(() => STRATEGIES.ekfac.layer({ lambda: [lambda] }, 0, layer)).toThrow(
      /strategy ekfac needs eigendecompositions/,
    );
  });

  it('divideDamped and the unrotated Λ pass equal the identity-basis rotations exactly (float64)', async () => {
    const random = seededRandom(17);
    const [B, T, dIn, dOut] = [3, 4, 5, 6];
    const dInPrime = dIn + 1;
    const values = (n: number) => Float64Array.from({ length: n }, () => random.normal());
    const batch = {
      activations: backend.upload(values(B * T * dIn), [B, T, dIn]),
      gradients: backend.upload(values(B * T * dOut), [B, T, dOut]),
      mask: backend.upload(
        Float64Array.from({ length: B * T }, (_, i) => (i % T < T - (i % 2) ? 1 : 0)),
        [B, T],
      ),
      appendOnes: true,
    };
    const qS = backend.upload(identity(dOut), [dOut, dOut]);
    const qA = backend.upload(identity(dInPrime), [dInPrime, dInPrime]);
    const rotated = backend.zeros([dOut, dInPrime]);
    const plain = backend.zeros([dOut, dInPrime]);
    backend.accumulateLambda(rotated, batch, qS, qA);
    backend.accumulateLambda(plain, batch, null, null);
    expect(await backend.read(plain)).toEqual(await backend.read(rotated));
    expect(() => backend.accumulateLambda(plain, batch, qS, null)).toThrow(
      /accumulateLambda: qS and qA must both be given/,
    );

    const gradients = backend.sequenceGradients(batch);
    for (const damping of [
      { kind: 'heuristic', factor: 0.1 },
      { kind: 'absolute', value: 0.3 },
    ] as const) {
      const divided = backend.divideDamped(gradients, plain, damping);
      expect(await backend.read(divided)).toEqual(
        await backend.read(backend.precondition(gradients, qS, qA, plain, damping)),
      );
    }
    const negative = backend.upload(
      Float64Array.from({ length: dOut * dInPrime }, () => -1),
      [dOut, dInPrime],
    );
    expect(() => backend.divideDamped(gradients, negative, { kind: 'absolute', value: 0.5 })).toThrow(
      /divideDamped.*Λ \+ δ = -0.5 at \(0, 0\) is not positive/,
    );
  });
});

/** The CPU backend with a float32-grade eigh: what a GPU's Jacobi hands back. */
class Float32EighBackend extends CpuBackend {
  override async eigh(matrix: Tensor, options?: EighOptions): Promise<Eigen> {
    const exact = await super.eigh(matrix, options);
    const rounded = (await this.read(exact.vectors)).map((v) => Math.fround(v));
    return { ...exact, vectors: this.upload(rounded, exact.vectors.shape) };
  }
}

/** max |(A Q − Q diag(λ))_ij| / ‖A‖_max over every layer's A and S. */
function worstResidual(result: AttributionResult): number {
  let worst = 0;
  for (const layer of result.factors.layers) {
    for (const [sum, count, vectors, values] of [
      [layer.activationCovarianceSum, layer.activationCount, layer.activationEigenvectors, layer.activationEigenvalues],
      [layer.gradientCovarianceSum, layer.gradientCount, layer.gradientEigenvectors, layer.gradientEigenvalues],
    ] as const) {
      const d = values!.data.length;
      const a = sum!.data.map((v) => v / count!);
      const scale = Math.max(...a.map(Math.abs));
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let aq = 0;
          for (let k = 0; k < d; k++) aq += a[i * d + k]! * vectors!.data[k * d + j]!;
          worst = Math.max(worst, Math.abs(aq - vectors!.data[i * d + j]! * values!.data[j]!) / scale);
        }
      }
    }
  }
  return worst;
}

describe('config.refineEigen', () => {
  it('refines a float32-grade eigenbasis to float64 residuals; off, the basis is the backend’s', async () => {
    const fixture = await tokenLmFixture();
    const set = (role: 'train' | 'query', count: number): ExampleSet => ({
      role,
      examples: Array.from({ length: count }, (_, i) => ({ id: `${role}${i}` })),
    });
    const run = (config: AttributionConfig) =>
      runAttribution(config, {
        backend: new Float32EighBackend(),
        source: new ExactGradientSource(fixture.model),
        trainSet: set('train', 8),
        querySet: set('query', 2),
      });
    const config: AttributionConfig = {
      ...DEFAULT_CONFIG,
      strategy: 'kfac',
      batchSizes: { fit: 4, train: 4, query: 2, batchesPerChunk: 1 },
    };
    const rough = await run(config);
    const refined = await run({ ...config, refineEigen: true });
    expect(worstResidual(rough)).toBeGreaterThan(1e-9);
    expect(worstResidual(refined)).toBeLessThan(1e-12);
  });
});
