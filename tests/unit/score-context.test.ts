/**
 * score-context.ts works in the basis where each layer's preconditioner is diagonal: self-influence as ⟨X, R⟩ with
 * R = Q_Sᵀ G Q_A from the token rows (no rotation back), and P = rotate(X, 'back'). In float64 these must give what
 * the direct formulas give — ⟨precondition(G), G⟩ and precondition(G) — for every kind of layer: eigenbasis (kfac,
 * ekfac), parameter basis (diagonal) and none (identity).
 */
import { describe, expect, it } from 'vitest';
import type { TokenBatch } from '../../src/linalg/backend';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { hostMatrix } from '../../src/influence/host';
import {
  preconditionBatch,
  releasePreconditioned,
  selfInner,
  uploadPreconditioner,
  usesSequenceGradients,
  type ScoreContext,
} from '../../src/influence/score-context';
import { DEFAULT_CONFIG, type LayerPreconditioner } from '../../src/influence/types';
import { maxAbs, maxAbsDifference, mulberry32, randomMatrix, randomOrthogonal } from '../helpers/matrices';

const backend = new CpuBackend();
const [B, T, dIn, dOut] = [3, 5, 12, 9];
const dInPrime = dIn + 1;
const rng = mulberry32(2026);

const batch: TokenBatch = {
  activations: backend.upload(randomMatrix(rng, B * T, dIn), [B, T, dIn]),
  gradients: backend.upload(randomMatrix(rng, B * T, dOut), [B, T, dOut]),
  // Sequence 1 has only its first two tokens: the per-sequence form choice sees different token counts.
  mask: backend.upload([1, 1, 1, 1, 0.5, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1], [B, T]),
  appendOnes: true,
};
const lambda = hostMatrix(
  [dOut, dInPrime],
  Float64Array.from({ length: dOut * dInPrime }, () => rng() * 2),
);
const bases = {
  qS: hostMatrix([dOut, dOut], randomOrthogonal(rng, dOut)),
  qA: hostMatrix([dInPrime, dInPrime], randomOrthogonal(rng, dInPrime)),
};
const DELTA = 0.3;

function context(layer: LayerPreconditioner | null): ScoreContext {
  return {
    backend,
    source: {
      layers: [{ name: 'mlp', weightName: 'w', dIn, dOut, hasBias: true }],
    } as unknown as ScoreContext['source'],
    layerIndices: [0],
    config: DEFAULT_CONFIG,
    preconditioner: { strategy: 'ekfac', layers: [layer], damping: [layer === null ? 0 : DELTA] },
  };
}

const CASES: [string, LayerPreconditioner | null][] = [
  ['eigenbasis (kfac, ekfac)', { lambda, bases }],
  ['parameter basis (diagonal)', { lambda, bases: null }],
  ['none (identity)', null],
];

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  expect(maxAbsDifference(actual, expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, maxAbs(expected)));
}

describe('preconditioning in the preconditioner’s own basis', () => {
  for (const [name, layer] of CASES) {
    it(`${name}: self-influence ⟨X, R⟩ = ⟨P, G⟩ and rotate(X, back) = P, float64`, async () => {
      const ctx = context(layer);
      const tensors = uploadPreconditioner(ctx);
      const g = backend.sequenceGradients(batch);
      const damping = { kind: 'absolute', value: DELTA } as const;
      const p =
        layer === null
          ? g
          : layer.bases === null
            ? backend.divideDamped(g, tensors[0]!.lambda, damping)
            : backend.precondition(g, tensors[0]!.qS!, tensors[0]!.qA!, tensors[0]!.lambda, damping);
      const expectedSelf = await backend.read(backend.pairedInner(p, g));
      expect(usesSequenceGradients(tensors[0])).toBe(layer === null || layer.bases === null);
      const given = usesSequenceGradients(tensors[0]) ? g : null;
      const self = await selfInner(ctx, 0, batch, given, tensors);
      expectClose(self, expectedSelf);
      expect(Math.min(...self)).toBeGreaterThan(0);

      const pre = preconditionBatch(ctx, 0, batch, given, tensors);
      expect(pre.eigenbasis).toBe(layer !== null && layer.bases !== null);
      const back = pre.eigenbasis ? backend.rotate(pre.divided, tensors[0]!.qS!, tensors[0]!.qA!, 'back') : pre.divided;
      expectClose(await backend.read(back), await backend.read(p));
      releasePreconditioned(backend, pre, given);
      // G(n) passed in is the caller's: still readable after the release.
      expect((await backend.read(g)).length).toBe(B * dOut * dInPrime);
    });
  }

  it('an identity or diagonal layer without G(n) is refused by name', () => {
    const ctx = context(null);
    expect(() => preconditionBatch(ctx, 0, batch, null, uploadPreconditioner(ctx))).toThrow(
      /preconditionBatch: layer mlp needs G\(n\)/,
    );
  });
});
