/**
 * Detectable lies in a re-signed bundle (valid checksums, contradicting numbers; issue 25 §5): each kind is refused
 * on read with the field named. The committed bundles of real runs pass every check.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBundle, encodeBundle } from '../../src/store/bundle';
import type { SafetensorsTensor } from '../../src/store/safetensors';
import { sampleContent, sampleEvaluation } from '../fixtures/store/sample-bundle';
import { refusalOf, resign, values, type Json } from '../helpers/bundle-edit';
import { fixturePath } from '../helpers/fixtures';

const content = sampleContent();
const good = encodeBundle({ ...content, evaluation: sampleEvaluation(content) }, { scoreDtype: 'F64' });

const refusal = (edit: (manifest: Json, tensors: Map<string, SafetensorsTensor>) => void) => refusalOf(good, edit);

const t = (tensors: Map<string, SafetensorsTensor>, name: string) => values(tensors.get(name)!);

const LIES: [string, (m: Json, tensors: Map<string, SafetensorsTensor>) => void, RegExp][] = [
  [
    'strategy identity with eigen factors',
    (m) => (m.strategy = 'identity'),
    /^manifest strategy 'identity' fits no eigen factors, but stages lists 'eigen'$/,
  ],
  ['strategy kfac with Λ', (m) => (m.strategy = 'kfac'), /^manifest strategy 'kfac' fits no lambda factors/],
  [
    'gradientCount changed',
    (m) => (m.layers[1].gradientCount = 36),
    /^manifest layers\[1\]\.gradientCount is 36 but activationCount 37/,
  ],
  [
    'lambdaCount changed in one layer',
    (m) => (m.layers[1].lambdaCount = 4),
    /^manifest layers\[1\]\.lambdaCount is 4 but layers\[0\]\.lambdaCount 5/,
  ],
  [
    'duplicate layer names',
    (m) => (m.layers[1].name = m.layers[0].name),
    /^manifest layers\[1\]\.name '\/mlp\.0\/MatMul' repeats layers\[0\]\.name$/,
  ],
  [
    'scores.measurement any string',
    (m) => (m.scores.measurement = 'vibes'),
    /^manifest scores\.measurement 'vibes' is not one of mean-log-likelihood, summed-loss$/,
  ],
  [
    'negative self-influence',
    (_, x) => (t(x, 'scores.self_tau')[2] = -1),
    /^tensor 'scores\.self_tau' element 2 is -1; self-influence/,
  ],
  [
    'a negative eigenvalue',
    (_, x) => (t(x, 'layers.1.gradient_eigenvalues')[0] = -0.5),
    /^tensor 'layers\.1\.gradient_eigenvalues' element 0 is -0\.5; a covariance eigenvalue must be ≥ 0$/,
  ],
  [
    'an asymmetric covariance',
    (_, x) => (t(x, 'layers.0.gradient_covariance')[1] += 0.5),
    /^tensor 'layers\.0\.gradient_covariance' is not symmetric: \[0, 1\]/,
  ],
  [
    'zeroed eigenvectors',
    (_, x) => t(x, 'layers.0.activation_eigenvectors').fill(0),
    /^tensor 'layers\.0\.activation_eigenvectors' column 0 has norm 0; an eigenvector has norm 1$/,
  ],
  [
    'a negative Λ entry',
    (_, x) => (t(x, 'layers.1.lambda_matrix')[3] = -0.25),
    /^tensor 'layers\.1\.lambda_matrix' element 3 is -0\.25; Λ \(a mean of squares\) must be ≥ 0$/,
  ],
  [
    'reversed subset measurements',
    (_, x) => t(x, 'eval.subset_measurements').reverse(),
    /^tensor 'eval\.lds\.identity\.per_query' element \d+ is .*, but the Spearman correlation of 'eval\.lds\.identity\.predictions'/,
  ],
  [
    'negated loo.actual',
    (_, x) => t(x, 'eval.loo.actual').forEach((v, i, a) => (a[i] = -v)),
    /^manifest evaluation\.strategies\[0\]\.looPearson is -?[\d.e-]+, but 'eval\.loo\.actual' and the strategy's predictions give/,
  ],
];

describe('lies the reader detects', () => {
  it('the untouched, re-signed bundle decodes', async () => {
    await expect(decodeBundle(await resign(await good, () => {}))).resolves.toBeDefined();
  });
  it.each(LIES)('%s', async (_name, edit, message) => {
    expect(await refusal(edit)).toMatch(message);
  });

  it('per-token offsets shifted against the rows’ recorded tokens', async () => {
    const withTokens = sampleContent();
    const train = withTokens.rows!.train.map((row, n) => ({
      ...row,
      tokens: Array.from({ length: 2 + (n % 3) }, (_, i) => `t${i}`),
    }));
    const bytes = await encodeBundle({ ...withTokens, rows: { ...withTokens.rows!, train } });
    await expect(decodeBundle(bytes)).resolves.toBeDefined();
    const shifted = await resign(bytes, (_, x) => {
      const offsets = new Int32Array(x.get('scores.tau_per_token_offsets')!.data.buffer.slice(0));
      offsets[1]! += 1; // example 0 one token longer, example 1 one shorter
      x.set('scores.tau_per_token_offsets', {
        ...x.get('scores.tau_per_token_offsets')!,
        data: new Uint8Array(offsets.buffer),
      });
    });
    await expect(decodeBundle(shifted)).rejects.toThrow(
      /^tensor 'scores\.tau_per_token_offsets' gives rows\.train\[0\] 3 tokens, but it has 2$/,
    );
  });

  it('the committed bundles of real runs pass every check', async () => {
    for (const file of ['workspace/small.iwb', 'workspace/hostile.iwb', 'evaluation/micro.iwb']) {
      await expect(decodeBundle(new Uint8Array(readFileSync(fixturePath(file)))), file).resolves.toBeDefined();
    }
  });
});
