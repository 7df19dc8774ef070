/**
 * Parity with kronfluence 1.0.1 on its own fixtures (tests/fixtures/kronfluence): the same models (plain-TS float64
 * forward/backward), data and settings (empirical Fisher, heuristic damping, summed loss, float64) reproduce
 * kronfluence's factors, pairwise scores and self scores on the CPU float64 backend.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';
import { runAttribution } from '../../src/influence/pipeline';
import { DEFAULT_CONFIG, type AttributionConfig } from '../../src/influence/types';
import { maxRelativeError } from '../helpers/exact-dense';
import { mlpClassifierFixture, tokenLmFixture, type Fixture } from '../helpers/exact-kronfluence';
import { ExactGradientSource } from '../helpers/exact-source';

const KRONFLUENCE_SETTINGS: AttributionConfig = {
  ...DEFAULT_CONFIG,
  fisher: 'empirical',
  measurement: 'summed-loss',
  damping: { kind: 'heuristic', factor: 0.1 },
  batchSizes: { fit: 7, train: 9, query: 4, batchesPerChunk: 2 },
};

async function checkParity(fixture: Fixture): Promise<void> {
  const result = await runAttribution(KRONFLUENCE_SETTINGS, {
    backend: new CpuBackend(),
    source: new ExactGradientSource(fixture.model),
    trainSet: fixture.trainSet,
    querySet: fixture.querySet,
  });
  const reference = fixture.reference;
  const factors = reference.factors!;
  for (const ours of result.factors.layers) {
    const theirs = factors.layers.find((l) => l.name === ours.name)!;
    expect(theirs, ours.name).toBeDefined();
    expect(ours.activationCount).toBe(theirs.activationCount);
    expect(ours.lambdaCount).toBe(theirs.lambdaCount);
    expect(
      maxRelativeError(ours.activationCovarianceSum!.data, theirs.activationCovarianceSum!.data),
      `${ours.name} A`,
    ).toBeLessThan(1e-12);
    expect(
      maxRelativeError(ours.gradientCovarianceSum!.data, theirs.gradientCovarianceSum!.data),
      `${ours.name} S`,
    ).toBeLessThan(1e-12);
    expect(
      maxRelativeError(ours.activationEigenvalues!.data, theirs.activationEigenvalues!.data),
      `${ours.name} λ_A`,
    ).toBeLessThan(1e-9);
    expect(
      maxRelativeError(ours.gradientEigenvalues!.data, theirs.gradientEigenvalues!.data),
      `${ours.name} λ_S`,
    ).toBeLessThan(1e-9);
    // Squares in the eigenbasis: the eigenvectors' signs do not matter, and these spectra have no repeated eigenvalues.
    expect(maxRelativeError(ours.lambdaSum!.data, theirs.lambdaSum!.data), `${ours.name} Λ`).toBeLessThan(1e-9);
  }
  const pairwise = reference.pairwise[0].total;
  expect(pairwise.shape).toEqual([fixture.querySet.examples.length, fixture.trainSet.examples.length]);
  expect(maxRelativeError(result.tau, pairwise.data)).toBeLessThan(1e-9);
  // Summed-loss measurement: influence (positive = helps) is kronfluence's τ itself.
  expect(maxRelativeError(result.influence, pairwise.data)).toBeLessThan(1e-9);
  expect(maxRelativeError(result.selfTau, reference.self[0].total.data)).toBeLessThan(1e-9);
}

describe('parity with kronfluence (CPU float64, plain-TS models)', () => {
  it('mlp_classifier: factors, pairwise and self scores', async () => {
    await checkParity(await mlpClassifierFixture());
  });
  it('token_lm (padding, response-only loss, no-bias unembed): factors, pairwise and self scores', async () => {
    await checkParity(await tokenLmFixture());
  });
});

describe('scoring with factors imported from kronfluence', () => {
  it('uses them instead of refitting: a 10-example training subset reproduces kronfluence’s columns for those examples', async () => {
    const fixture = await tokenLmFixture();
    const subset = { role: 'train' as const, examples: fixture.trainSet.examples.slice(0, 10) };
    const source = new ExactGradientSource(fixture.model);
    const result = await runAttribution(KRONFLUENCE_SETTINGS, {
      backend: new CpuBackend(),
      source,
      trainSet: subset,
      querySet: fixture.querySet,
      factors: fixture.reference.factors!,
    });
    const [queries, train] = fixture.reference.pairwise[0].total.shape;
    const expected = Float64Array.from(
      { length: queries * 10 },
      (_, i) => fixture.reference.pairwise[0].total.data[Math.floor(i / 10) * train + (i % 10)],
    );
    expect(maxRelativeError(result.tau, expected)).toBeLessThan(1e-9);
    // No fitting pass ran: the training set was read once, for scores and self-influence together.
    expect(result.timings.map((t) => t.stage)).toEqual(['query', 'scores']);
  });

  it('refuses factors of another strategy or with missing layers, naming what is wrong', async () => {
    const fixture = await tokenLmFixture();
    const inputs = {
      backend: new CpuBackend(),
      source: new ExactGradientSource(fixture.model),
      trainSet: fixture.trainSet,
      querySet: fixture.querySet,
    };
    const factors = fixture.reference.factors!;
    await expect(
      runAttribution({ ...KRONFLUENCE_SETTINGS, strategy: 'diagonal' }, { ...inputs, factors }),
    ).rejects.toThrow(/strategy 'ekfac', the run asks for 'diagonal'/);
    const partial = { ...factors, layers: factors.layers.filter((l) => l.name !== 'down') };
    await expect(runAttribution(KRONFLUENCE_SETTINGS, { ...inputs, factors: partial })).rejects.toThrow(
      /no layer "down"/,
    );
  });
});
