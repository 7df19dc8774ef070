/**
 * What a bundle's manifest and tensors must agree on beyond types and shapes (docs/bundle-format.md, "What a reader
 * must check"): a bundle whose numbers contradict each other is refused on import, with the field named, rather
 * than shown as if it were a result. Also the JSON limits checked before the manifest is parsed or walked.
 */
import type { BundleManifest } from './bundle-manifest';
import { scanJsonText } from './json-scan';
import type { HostMatrix } from '../core/schema';

/** Deeper JSON than this is no manifest we write (ours is 5 deep); walking it recursively could overflow the stack. */
export const MAX_MANIFEST_DEPTH = 64;
/** The manifest string's size limit (the safetensors header, which holds it, is limited to 100 MB). */
export const MAX_MANIFEST_CHARS = 100_000_000;
/**
 * 7 factor tensors per layer, 7 score tensors and 22 evaluation tensors (bundle-eval.ts's MAX_EVAL_TENSORS): 4,096
 * layers is far beyond any model we track.
 */
export const MAX_BUNDLE_TENSORS = 7 * 4096 + 7 + 22;

/** Relative tolerance of the float32-stored score identities (τ/T_q, Σ_layers τ_l = τ). */
const SCORE_RTOL = 1e-4;
/**
 * Relative tolerance of the factor checks, against the tensor's largest magnitude: a covariance is symmetric (we
 * write it from its upper triangle), its eigenvalues and Λ (means of squares) are ≥ 0 and self-influence
 * gᵀ(F + λI)⁻¹g is ≥ 0 — up to rounding of a float32 eigensolver on a near-singular matrix, far below this.
 */
const FACTOR_RTOL = 1e-4;
/** An eigenvector is a unit column: |‖v‖ − 1| stays far below this in float32; a zeroed one is off by 1. */
const EIGENVECTOR_NORM_TOL = 1e-2;

/** The measurements whose relation of influence to τ the reader knows (app/config.ts's MEASUREMENTS). */
export const BUNDLE_MEASUREMENTS = ['mean-log-likelihood', 'summed-loss'] as const;
/** Which factors each strategy fits (influence/strategies.ts): a bundle holding others contradicts its strategy. */
const STRATEGY_FACTORS: Readonly<Record<string, { eigen: boolean; lambda: boolean }>> = {
  identity: { eigen: false, lambda: false },
  diagonal: { eigen: false, lambda: true },
  kfac: { eigen: true, lambda: false },
  ekfac: { eigen: true, lambda: true },
};

type Fail = (message: string) => never;

/** Refuses JSON text that is too large or nests too deep, without parsing it (strings are skipped, escapes too). */
export function checkJsonLimits(
  text: string,
  what: string,
  fail: Fail,
  maxDepth = MAX_MANIFEST_DEPTH,
  maxChars = MAX_MANIFEST_CHARS,
): void {
  if (text.length > maxChars) fail(`${what} is ${text.length} characters, over the limit of ${maxChars}`);
  const { depth, at } = scanJsonText(text, maxDepth);
  if (depth > maxDepth) fail(`${what} nests deeper than ${maxDepth} levels (at character ${at})`);
}

export interface DecodedLayer {
  readonly name: string;
  readonly hasBias: boolean;
  readonly activationCount?: number;
  readonly damping?: number;
  readonly activationCovarianceSum?: HostMatrix;
  readonly gradientCovarianceSum?: HostMatrix;
  readonly activationEigenvalues?: HostMatrix;
  readonly gradientEigenvalues?: HostMatrix;
  readonly activationEigenvectors?: HostMatrix;
  readonly gradientEigenvectors?: HostMatrix;
  readonly lambdaSum?: HostMatrix;
}

export interface DecodedScores {
  readonly tau?: HostMatrix;
  readonly influence?: HostMatrix;
  readonly tauPerLayer?: HostMatrix;
  readonly queryTargetCounts?: HostMatrix;
  readonly selfTau?: HostMatrix;
  readonly tauPerToken?: { readonly offsets: Int32Array; readonly values: HostMatrix };
}

/** Checks the manifest's own consistency (before tensors are read). */
export function checkManifestInvariants(manifest: BundleManifest, fail: Fail): void {
  for (const stage of ['scores', 'self'] as const) {
    if (manifest.stages.includes(stage) && manifest.scores === null) {
      fail(`manifest stages lists '${stage}' but manifest scores is null (no score tensors can belong to it)`);
    }
  }
  manifest.layers.forEach((layer, i) => {
    if (layer.damping !== undefined && layer.damping < 0)
      fail(`manifest layers[${i}].damping is ${layer.damping}; damping must be ≥ 0`);
  });
  if (manifest.layers.length > 4096)
    fail(`manifest layers lists ${manifest.layers.length} layers, over the limit of 4096`);
  checkLayerCounts(manifest, fail);
  const factors = STRATEGY_FACTORS[manifest.strategy];
  for (const stage of ['eigen', 'lambda'] as const) {
    if (factors && manifest.stages.includes(stage) && !factors[stage])
      fail(`manifest strategy '${manifest.strategy}' fits no ${stage} factors, but stages lists '${stage}'`);
  }
  const measurement = manifest.scores?.measurement;
  if (measurement !== undefined && !(BUNDLE_MEASUREMENTS as readonly string[]).includes(measurement))
    fail(`manifest scores.measurement '${measurement.slice(0, 60)}' is not one of ${BUNDLE_MEASUREMENTS.join(', ')}`);
  if (!manifest.rows) return;
  for (const role of ['train', 'query'] as const) {
    const first = new Map<string, number>();
    manifest.rows[role].forEach((row, i) => {
      const seen = first.get(row.id);
      if (seen !== undefined)
        fail(`manifest rows.${role}[${i}].id "${row.id.slice(0, 60)}" repeats rows.${role}[${seen}].id`);
      first.set(row.id, i);
      // Segments, tokens, categories and losses index the positions of the sequence the model was fed.
      const positions = row.tokens?.length;
      if (row.tokenLoss !== undefined && row.tokenLoss.length !== positions) {
        fail(
          `manifest rows.${role}[${i}].tokenLoss has ${row.tokenLoss.length} entries for ${positions ?? 'no'} tokens`,
        );
      }
      if (positions === undefined) return;
      if (row.tokenCategories !== undefined && row.tokenCategories.length !== positions) {
        fail(
          `manifest rows.${role}[${i}].tokenCategories has ${row.tokenCategories.length} entries for ${positions} tokens`,
        );
      }
      row.segments?.forEach((segment, s) => {
        if (segment.end > positions) {
          fail(
            `manifest rows.${role}[${i}].segments[${s}] ends at ${segment.end}, beyond the row's ${positions} tokens`,
          );
        }
      });
    });
  }
}

/**
 * Layer names are unique; each layer counts the same tokens for its activation and gradient covariances (one a and
 * one g per token), every layer the same tokens, and Λ the same sequences in every layer.
 */
function checkLayerCounts(manifest: BundleManifest, fail: Fail): void {
  const seen = new Map<string, number>();
  manifest.layers.forEach((layer, i) => {
    const first = seen.get(layer.name);
    if (first !== undefined) fail(`manifest layers[${i}].name '${layer.name}' repeats layers[${first}].name`);
    seen.set(layer.name, i);
    if (
      layer.activationCount !== undefined &&
      layer.gradientCount !== undefined &&
      layer.activationCount !== layer.gradientCount
    )
      fail(
        `manifest layers[${i}].gradientCount is ${layer.gradientCount} but activationCount ${layer.activationCount}; ` +
          'both count the same tokens',
      );
  });
  for (const key of ['activationCount', 'gradientCount', 'lambdaCount'] as const) {
    const at = manifest.layers.findIndex((l) => l[key] !== undefined);
    if (at < 0) continue;
    const value = manifest.layers[at]![key];
    manifest.layers.forEach((layer, i) => {
      if (layer[key] !== undefined && layer[key] !== value)
        fail(
          `manifest layers[${i}].${key} is ${layer[key]} but layers[${at}].${key} ${value}; every layer counts the same`,
        );
    });
  }
}

/** Covariances symmetric, eigenvalues and Λ ≥ 0, eigenvectors unit columns (each within rounding). */
function checkFactors(layer: DecodedLayer, i: number, fail: Fail): void {
  for (const [key, file] of [
    ['activationCovarianceSum', 'activation_covariance'],
    ['gradientCovarianceSum', 'gradient_covariance'],
  ] as const) {
    const matrix = layer[key];
    if (!matrix) continue;
    const d = matrix.shape[0]!;
    const tolerance = FACTOR_RTOL * maxAbs(matrix.data) + 1e-300;
    for (let r = 0; r < d; r++)
      for (let c = r + 1; c < d; c++) {
        const [upper, lower] = [matrix.data[r * d + c]!, matrix.data[c * d + r]!];
        if (Math.abs(upper - lower) > tolerance)
          fail(`tensor 'layers.${i}.${file}' is not symmetric: [${r}, ${c}] = ${upper} but [${c}, ${r}] = ${lower}`);
      }
  }
  for (const [key, file] of [
    ['activationEigenvalues', 'activation_eigenvalues'],
    ['gradientEigenvalues', 'gradient_eigenvalues'],
    ['lambdaSum', 'lambda_matrix'],
  ] as const) {
    const values = layer[key]?.data;
    if (!values) continue;
    const tolerance = FACTOR_RTOL * maxAbs(values);
    const bad = values.findIndex((v) => v < -tolerance);
    if (bad >= 0)
      fail(
        `tensor 'layers.${i}.${file}' element ${bad} is ${values[bad]}; ${key === 'lambdaSum' ? 'Λ (a mean of squares)' : 'a covariance eigenvalue'} must be ≥ 0`,
      );
  }
  for (const [key, file] of [
    ['activationEigenvectors', 'activation_eigenvectors'],
    ['gradientEigenvectors', 'gradient_eigenvectors'],
  ] as const) {
    const matrix = layer[key];
    if (!matrix) continue;
    const d = matrix.shape[0]!;
    for (let c = 0; c < d; c++) {
      let norm = 0;
      for (let r = 0; r < d; r++) norm += matrix.data[r * d + c]! ** 2;
      if (Math.abs(Math.sqrt(norm) - 1) > EIGENVECTOR_NORM_TOL)
        fail(`tensor 'layers.${i}.${file}' column ${c} has norm ${Math.sqrt(norm)}; an eigenvector has norm 1`);
    }
  }
}

/** Checks what the factor and score tensors must satisfy given the manifest. */
export function checkTensorInvariants(
  manifest: BundleManifest,
  layers: readonly DecodedLayer[],
  scores: DecodedScores,
  fail: Fail,
): void {
  layers.forEach((layer, i) => {
    checkFactors(layer, i, fail);
    const covariance = layer.activationCovarianceSum;
    if (covariance && layer.hasBias && layer.activationCount !== undefined) {
      // The bias column of ã is all ones, so its diagonal entry of Σ ã ãᵀ counts the tokens: activationCount.
      const width = covariance.shape[0]!;
      const diagonal = covariance.data[width * width - 1]!;
      if (Math.abs(diagonal - layer.activationCount) > 1e-6 * Math.max(1, layer.activationCount)) {
        fail(
          `manifest layers[${i}].activationCount is ${layer.activationCount} but ` +
            `layers.${i}.activation_covariance's bias-column diagonal counts ${diagonal} tokens`,
        );
      }
    }
    for (const [key, file] of [
      ['activationEigenvalues', 'activation_eigenvalues'],
      ['gradientEigenvalues', 'gradient_eigenvalues'],
    ] as const) {
      const values = layer[key]?.data;
      if (!values) continue;
      for (let k = 1; k < values.length; k++) {
        if (values[k]! < values[k - 1]!)
          fail(
            `tensor 'layers.${i}.${file}' is not ascending: ` +
              `element ${k} (${values[k]}) < element ${k - 1} (${values[k - 1]})`,
          );
      }
    }
  });
  const self = scores.selfTau?.data;
  if (self) {
    const tolerance = FACTOR_RTOL * maxAbs(self);
    const bad = self.findIndex((v) => v < -tolerance);
    if (bad >= 0) fail(`tensor 'scores.self_tau' element ${bad} is ${self[bad]}; self-influence gᵀPg must be ≥ 0`);
  }
  const perToken = scores.tauPerToken;
  const trainRows = manifest.rows?.train;
  if (perToken && trainRows) {
    // Each training example's slice of the per-token scores is as long as its recorded tokens.
    trainRows.forEach((row, n) => {
      const length = perToken.offsets[n + 1]! - perToken.offsets[n]!;
      if (row.tokens !== undefined && row.tokens.length !== length)
        fail(
          `tensor 'scores.tau_per_token_offsets' gives rows.train[${n}] ${length} tokens, but it has ${row.tokens.length}`,
        );
    });
  }
  const counts = scores.queryTargetCounts?.data;
  counts?.forEach((count, q) => {
    if (!(Number.isSafeInteger(count) && count > 0))
      fail(`tensor 'scores.query_target_counts' element ${q} is ${count}; T_q must be a positive integer`);
  });
  const { tau, influence, tauPerLayer } = scores;
  const measurement = manifest.scores?.measurement;
  if (tau && influence && (measurement === 'summed-loss' || (measurement === 'mean-log-likelihood' && counts))) {
    const train = tau.shape[1]!;
    const expected = (k: number) =>
      measurement === 'summed-loss' ? tau.data[k]! : tau.data[k]! / counts![Math.floor(k / train)]!;
    const scale = maxAbs(tau.data);
    for (let k = 0; k < tau.data.length; k++) {
      const want = expected(k);
      if (Math.abs(influence.data[k]! - want) > SCORE_RTOL * (Math.abs(want) + 1e-3 * scale) + 1e-300) {
        const [q, n] = [Math.floor(k / train), k % train];
        const rule = measurement === 'summed-loss' ? 'τ' : 'τ/T_q';
        fail(
          `tensor 'scores.influence' [${q}, ${n}] is ${influence.data[k]}, ` +
            `but measurement '${measurement}' needs ${rule} = ${want}`,
        );
      }
    }
  }
  if (tau && tauPerLayer) {
    const size = tau.data.length;
    const layerCount = tauPerLayer.shape[0]!;
    const scale = maxAbs(tauPerLayer.data);
    for (let k = 0; k < size; k++) {
      let sum = 0;
      let magnitude = 0;
      for (let l = 0; l < layerCount; l++) {
        sum += tauPerLayer.data[l * size + k]!;
        magnitude += Math.abs(tauPerLayer.data[l * size + k]!);
      }
      if (Math.abs(sum - tau.data[k]!) > SCORE_RTOL * (magnitude + 1e-3 * scale) + 1e-300) {
        fail(
          `tensor 'scores.tau_per_layer' sums to ${sum} over layers at element ${k}, ` +
            `but 'scores.tau' is ${tau.data[k]}`,
        );
      }
    }
  }
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  return max;
}
