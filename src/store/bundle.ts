/**
 * `.iwb` bundles (docs/bundle-format.md): one safetensors file that Python's `safetensors` opens as is. Tensors hold
 * factors per layer and scores; `__metadata__` holds the manifest (JSON) and its sha256. Decoding checks every
 * size before allocating, every field, shape and checksum, and refuses NaN/Inf; it either returns a whole bundle or
 * throws a BundleError — it never stores anything, so a failed import cannot leave a partial record.
 */
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  BundleError,
  MANIFEST_KEY,
  MANIFEST_SHA256_KEY,
  validateManifest,
  type BundleLayer,
  type BundleManifest,
  type BundleStage,
  type Fingerprint,
} from './bundle-manifest';
import { SafetensorsError, readSafetensors, writeSafetensors, type SafetensorsTensor } from './safetensors';
import { floatTensor, tensorFromArray, tensorToArray, tensorToFloat64 } from './tensor-values';
import type { DatasetRow, HostMatrix, LayerFactors, ModelFactors, ScoreTensors } from '../core/schema';
import { sha256Hex } from '../core/hash';
import { MATRIX_FILES } from './kronfluence';
import { checkJsonLimits, checkManifestInvariants, checkTensorInvariants, MAX_BUNDLE_TENSORS } from './bundle-validate';
import { decodeEvaluation, evaluationTensorNames, evaluationTensors, type BundleEvaluation } from './bundle-eval';

export * from './bundle-manifest';
export { EVAL_TENSORS, type BundleEvaluation, type BundleEvaluationStrategyTensors } from './bundle-eval';
export { sha256Hex } from '../core/hash';

/** Layer tensors are named `layers.<index>.<kronfluence file name>`. */
export const LAYER_PARTS = MATRIX_FILES;
export type LayerPart = keyof typeof LAYER_PARTS;

export const STAGE_PARTS: Readonly<Record<'covariance' | 'eigen' | 'lambda', readonly LayerPart[]>> = {
  covariance: ['activationCovarianceSum', 'gradientCovarianceSum'],
  eigen: ['activationEigenvectors', 'activationEigenvalues', 'gradientEigenvectors', 'gradientEigenvalues'],
  lambda: ['lambdaSum'],
};

export const SCORE_TENSORS = {
  tau: 'scores.tau',
  influence: 'scores.influence',
  tauPerLayer: 'scores.tau_per_layer',
  selfTau: 'scores.self_tau',
  queryTargetCounts: 'scores.query_target_counts',
  tauPerToken: 'scores.tau_per_token',
  tauPerTokenOffsets: 'scores.tau_per_token_offsets',
  groupTokenInfluence: 'scores.group_token_influence',
  groupTokenOffsets: 'scores.group_token_offsets',
  groupTokenQueries: 'scores.group_token_queries',
  pairTokenInfluence: 'scores.pair_token_influence',
  pairTokenPairs: 'scores.pair_token_pairs',
  pairTokenOffsets: 'scores.pair_token_offsets',
} as const;

/** The score tensors that are plain float matrices (per-token scores come with their offsets). */
export const MATRIX_SCORES = ['tau', 'influence', 'tauPerLayer', 'selfTau', 'queryTargetCounts'] as const;

export const DEFAULT_MAX_BUNDLE_BYTES = 2 ** 31;

export async function fingerprintOf(name: string, bytes: Uint8Array): Promise<Fingerprint> {
  return { name, sha256: await sha256Hex(bytes), bytes: bytes.byteLength };
}

export interface BundleLayerInput extends LayerFactors {
  readonly weightName?: string;
  readonly dIn: number;
  readonly dOut: number;
  readonly hasBias: boolean;
  readonly damping?: number;
}

export interface BundleContent {
  readonly model: Fingerprint | null;
  /** The model's external data files; written to the manifest only when there are any. */
  readonly modelData?: readonly Fingerprint[];
  readonly datasets: { readonly train: Fingerprint | null; readonly query: Fingerprint | null };
  readonly strategy: ModelFactors['strategy'];
  readonly config: Readonly<Record<string, unknown>>;
  readonly backend: string | null;
  readonly layers: readonly BundleLayerInput[];
  readonly scores?: ScoreTensors & { readonly queryTargetCounts?: HostMatrix; readonly measurement: string };
  /** Omit (or null) to leave the dataset rows out of the bundle. */
  readonly rows?: { readonly train: readonly DatasetRow[]; readonly query: readonly DatasetRow[] } | null;
  /** The evaluation against retraining (needs `scores`: its queries and training examples are theirs). */
  readonly evaluation?: BundleEvaluation | null;
}

export interface EncodeOptions {
  /** Score tensors' dtype (default F32, half the size; factors are always F64). */
  readonly scoreDtype?: 'F32' | 'F64';
  readonly createdAt?: string;
  readonly generator?: string;
}

export interface Bundle {
  readonly manifest: BundleManifest;
  readonly factors: ModelFactors & { readonly layers: readonly BundleLayerInput[] };
  readonly scores: ScoreTensors & { readonly queryTargetCounts?: HostMatrix };
  readonly evaluation: BundleEvaluation | null;
}

function stagesOf(content: BundleContent): BundleStage[] {
  const all = (parts: readonly LayerPart[]) =>
    content.layers.length > 0 && content.layers.every((layer) => parts.every((part) => layer[part] !== undefined));
  const present: BundleStage[] = [];
  if (all(STAGE_PARTS.covariance)) present.push('covariance');
  if (all(STAGE_PARTS.eigen)) present.push('eigen');
  if (all(STAGE_PARTS.lambda)) present.push('lambda');
  if (content.scores?.tau) present.push('scores');
  if (content.scores?.selfTau) present.push('self');
  return present;
}

/** Encode a run's results. Parts of a stage that not every layer has are left out (the stage is not listed). */
export async function encodeBundle(
  content: BundleContent,
  options: EncodeOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const stages = stagesOf(content);
  const tensors = new Map<string, SafetensorsTensor>();
  content.layers.forEach((layer, index) => {
    for (const stage of ['covariance', 'eigen', 'lambda'] as const) {
      if (!stages.includes(stage)) continue;
      for (const part of STAGE_PARTS[stage]) {
        const matrix = layer[part]!;
        tensors.set(`layers.${index}.${LAYER_PARTS[part]}`, floatTensor(matrix.shape, matrix.data, 'F64'));
      }
    }
  });
  const scoreDtype = options.scoreDtype ?? 'F32';
  const scores = content.scores;
  if (scores) {
    for (const key of MATRIX_SCORES) {
      const matrix = scores[key];
      if (matrix)
        tensors.set(
          SCORE_TENSORS[key],
          floatTensor(matrix.shape, matrix.data, key === 'queryTargetCounts' ? 'F64' : scoreDtype),
        );
    }
    if (scores.tauPerToken) {
      const { offsets, values } = scores.tauPerToken;
      tensors.set(SCORE_TENSORS.tauPerToken, floatTensor(values.shape, values.data, scoreDtype));
      tensors.set(SCORE_TENSORS.tauPerTokenOffsets, tensorFromArray('I32', [offsets.length], offsets));
    }
    if (scores.groupTokens) {
      const { offsets, values, queryGroups } = scores.groupTokens;
      tensors.set(SCORE_TENSORS.groupTokenInfluence, floatTensor(values.shape, values.data, scoreDtype));
      tensors.set(SCORE_TENSORS.groupTokenOffsets, tensorFromArray('I32', [offsets.length], offsets));
      tensors.set(SCORE_TENSORS.groupTokenQueries, tensorFromArray('I32', [queryGroups.length], queryGroups));
    }
    if (scores.pairTokens) {
      const { pairs, offsets, values } = scores.pairTokens;
      tensors.set(SCORE_TENSORS.pairTokenInfluence, floatTensor(values.shape, values.data, scoreDtype));
      tensors.set(SCORE_TENSORS.pairTokenPairs, tensorFromArray('I32', [pairs.length / 2, 2], pairs));
      tensors.set(SCORE_TENSORS.pairTokenOffsets, tensorFromArray('I32', [offsets.length], offsets));
    }
  }
  const tau = scores?.tau ?? scores?.selfTau;
  const shape =
    scores && tau ? { queries: scores.tau ? scores.tau.shape[0]! : 1, train: tau.shape[tau.shape.length - 1]! } : null;
  if (content.evaluation) {
    if (!shape) throw new BundleError('an evaluation can only be bundled with the scores it evaluates');
    for (const [name, tensor] of evaluationTensors(content.evaluation, shape.queries, shape.train))
      tensors.set(name, tensor);
  }
  const checksums: Record<string, { sha256: string }> = {};
  for (const [name, tensor] of tensors) checksums[name] = { sha256: await sha256Hex(tensor.data) };
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    createdAt: options.createdAt ?? new Date().toISOString(),
    generator: options.generator ?? 'influence-workbench',
    model: content.model,
    ...(content.modelData?.length ? { modelData: content.modelData } : {}),
    datasets: content.datasets,
    strategy: content.strategy,
    config: content.config,
    backend: content.backend,
    stages,
    layers: content.layers.map((layer): BundleLayer => ({
      name: layer.name,
      ...(layer.weightName !== undefined && { weightName: layer.weightName }),
      dIn: layer.dIn,
      dOut: layer.dOut,
      hasBias: layer.hasBias,
      ...(stages.includes('covariance') && {
        activationCount: layer.activationCount,
        gradientCount: layer.gradientCount,
      }),
      ...(stages.includes('lambda') && { lambdaCount: layer.lambdaCount }),
      ...(layer.damping !== undefined && { damping: layer.damping }),
    })),
    scores:
      scores && shape
        ? {
            ...shape,
            measurement: scores.measurement,
            ...(scores.groupTokens ? { tokenGroups: [...scores.groupTokens.names] } : {}),
          }
        : null,
    tensors: checksums,
    rows: content.rows ?? null,
    evaluation: content.evaluation?.info ?? null,
  };
  const manifestText = JSON.stringify(manifest);
  // Validate what we write with the reader's own rules, so a bundle we export is always one we can import.
  const bytes = writeSafetensors(tensors, {
    [MANIFEST_KEY]: manifestText,
    [MANIFEST_SHA256_KEY]: await sha256Hex(manifestText),
  });
  await decodeBundle(bytes);
  return bytes;
}

function expectShape(name: string, tensor: SafetensorsTensor, shape: readonly number[]): void {
  if (tensor.shape.length !== shape.length || tensor.shape.some((dim, i) => dim !== shape[i])) {
    throw new BundleError(`tensor '${name}' has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}

function finiteFloats(name: string, tensor: SafetensorsTensor): HostMatrix {
  if (tensor.dtype !== 'F64' && tensor.dtype !== 'F32')
    throw new BundleError(`tensor '${name}' has dtype ${tensor.dtype}, expected F64 or F32`);
  const data = tensorToFloat64(tensor, name);
  const bad = data.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) throw new BundleError(`tensor '${name}' element ${bad} is ${data[bad]}: NaN/Inf is not allowed`);
  return { shape: [...tensor.shape], data };
}

/**
 * Decode and check a bundle. Throws BundleError naming the problem; returns fresh arrays (no views into `input`).
 * Nothing else escapes: an unexpected exception (a bug the checks missed) becomes a BundleError that keeps it as
 * `cause`, so callers handle one error type and tests can still tell such a case from a deliberate refusal.
 */
export async function decodeBundle(
  input: Uint8Array | ArrayBuffer,
  options: { readonly maxBytes?: number } = {},
): Promise<Bundle> {
  try {
    return await decodeChecked(input, options);
  } catch (error) {
    if (error instanceof BundleError) throw error;
    const message = (error as Error)?.message ?? String(error);
    throw new BundleError(`unexpected error while reading the bundle: ${message}`, { cause: error });
  }
}

async function decodeChecked(
  input: Uint8Array | ArrayBuffer,
  options: { readonly maxBytes?: number },
): Promise<Bundle> {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  if (bytes.byteLength > maxBytes)
    throw new BundleError(`bundle is ${bytes.byteLength} bytes, over the ${maxBytes}-byte limit`);
  let file;
  try {
    file = readSafetensors(bytes, { maxTensors: MAX_BUNDLE_TENSORS });
  } catch (error) {
    if (error instanceof SafetensorsError) throw new BundleError(`not a valid safetensors file: ${error.message}`);
    throw error;
  }
  const manifestText = file.metadata[MANIFEST_KEY];
  if (manifestText === undefined)
    throw new BundleError(
      `no manifest: __metadata__ has no "${MANIFEST_KEY}" (a safetensors file, but not an .iwb bundle)`,
    );
  if (file.metadata[MANIFEST_SHA256_KEY] !== (await sha256Hex(manifestText))) {
    throw new BundleError(
      `manifest checksum mismatch: __metadata__["${MANIFEST_SHA256_KEY}"] does not match the manifest's sha256`,
    );
  }
  const fail = (message: string): never => {
    throw new BundleError(message);
  };
  checkJsonLimits(manifestText, 'manifest', fail);
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifestText);
  } catch (error) {
    throw new BundleError(`manifest is not valid JSON: ${(error as Error).message}`);
  }
  const manifest = validateManifest(parsed, fail);
  checkManifestInvariants(manifest, fail);
  const known = new Set<string>(Object.values(SCORE_TENSORS));
  manifest.layers.forEach((_, index) =>
    Object.values(LAYER_PARTS).forEach((part) => known.add(`layers.${index}.${part}`)),
  );
  if (manifest.evaluation) evaluationTensorNames(manifest.evaluation).forEach((name) => known.add(name));
  for (const name of file.tensors.keys()) {
    if (!(name in manifest.tensors)) throw new BundleError(`tensor '${name}' is not listed in the manifest`);
    if (!known.has(name))
      throw new BundleError(
        `tensor '${name}' is not part of bundle version ${manifest.version} (layers.<i>.<factor>, scores.* or ` +
          `the eval.* tensors of the manifest's evaluation)`,
      );
  }
  for (const [name, { sha256 }] of Object.entries(manifest.tensors)) {
    const tensor = file.tensors.get(name);
    if (!tensor) throw new BundleError(`tensor '${name}' is listed in the manifest but missing from the file`);
    if ((await sha256Hex(tensor.data)) !== sha256) throw new BundleError(`checksum mismatch in tensor '${name}'`);
  }
  const take = (name: string): SafetensorsTensor | undefined => file.tensors.get(name);
  const layers = manifest.layers.map((info, index): BundleLayerInput => {
    const dIn = info.dIn + (info.hasBias ? 1 : 0);
    const shapes: Record<LayerPart, number[]> = {
      activationCovarianceSum: [dIn, dIn],
      activationEigenvectors: [dIn, dIn],
      activationEigenvalues: [dIn],
      gradientCovarianceSum: [info.dOut, info.dOut],
      gradientEigenvectors: [info.dOut, info.dOut],
      gradientEigenvalues: [info.dOut],
      lambdaSum: [info.dOut, dIn],
    };
    const layer: { -readonly [K in keyof BundleLayerInput]: BundleLayerInput[K] } = { ...info };
    for (const stage of ['covariance', 'eigen', 'lambda'] as const) {
      for (const part of STAGE_PARTS[stage]) {
        const name = `layers.${index}.${LAYER_PARTS[part]}`;
        const tensor = take(name);
        if (manifest.stages.includes(stage) !== (tensor !== undefined)) {
          throw new BundleError(
            `tensor '${name}' ${tensor ? 'is present but' : 'is missing though'} stage '${stage}' is ${tensor ? 'not listed' : 'listed'} (layer '${info.name}')`,
          );
        }
        if (!tensor) continue;
        expectShape(name, tensor, shapes[part]);
        layer[part] = finiteFloats(name, tensor);
      }
    }
    if (
      manifest.stages.includes('covariance') &&
      (info.activationCount === undefined || info.gradientCount === undefined)
    ) {
      throw new BundleError(
        `manifest layers[${index}] ('${info.name}'): the covariance stage needs activationCount and gradientCount`,
      );
    }
    if (manifest.stages.includes('lambda') && info.lambdaCount === undefined) {
      throw new BundleError(`manifest layers[${index}] ('${info.name}'): the lambda stage needs lambdaCount`);
    }
    return layer;
  });
  const scores = decodeScores(manifest, take);
  checkTensorInvariants(manifest, layers, scores, fail);
  const evaluation = decodeEvaluation(manifest, take, scores.influence);
  return { manifest, factors: { strategy: manifest.strategy, layers }, scores, evaluation };
}

function decodeScores(
  manifest: BundleManifest,
  take: (name: string) => SafetensorsTensor | undefined,
): Bundle['scores'] {
  const scoreNames = Object.values(SCORE_TENSORS) as string[];
  const present = scoreNames.filter((name) => take(name) !== undefined);
  const info = manifest.scores;
  if (!info) {
    if (present.length)
      throw new BundleError(`tensor '${present[0]}' is present but the manifest has no scores section`);
    return {};
  }
  for (const stage of ['scores', 'self'] as const) {
    const name = stage === 'scores' ? SCORE_TENSORS.tau : SCORE_TENSORS.selfTau;
    if (manifest.stages.includes(stage) !== (take(name) !== undefined)) {
      throw new BundleError(
        `stage '${stage}' and tensor '${name}' disagree: listed ${manifest.stages.includes(stage)}, present ${take(name) !== undefined}`,
      );
    }
  }
  const { queries, train } = info;
  const rows = manifest.rows;
  if (rows && (rows.train.length !== train || (manifest.stages.includes('scores') && rows.query.length !== queries))) {
    throw new BundleError(
      `manifest rows (${rows.query.length} queries, ${rows.train.length} training rows) do not match the scores (${queries} × ${train})`,
    );
  }
  const out: Record<string, unknown> = {};
  const matrix = (key: 'tau' | 'influence' | 'tauPerLayer' | 'selfTau' | 'queryTargetCounts', shape: number[]) => {
    const tensor = take(SCORE_TENSORS[key]);
    if (!tensor) return;
    expectShape(SCORE_TENSORS[key], tensor, shape);
    out[key] = finiteFloats(SCORE_TENSORS[key], tensor);
  };
  matrix('tau', [queries, train]);
  matrix('influence', [queries, train]);
  matrix('tauPerLayer', [manifest.layers.length, queries, train]);
  matrix('selfTau', [train]);
  matrix('queryTargetCounts', [queries]);
  const values = take(SCORE_TENSORS.tauPerToken);
  const offsetsTensor = take(SCORE_TENSORS.tauPerTokenOffsets);
  if ((values === undefined) !== (offsetsTensor === undefined)) {
    throw new BundleError(
      `'${SCORE_TENSORS.tauPerToken}' and '${SCORE_TENSORS.tauPerTokenOffsets}' must come together`,
    );
  }
  if (values && offsetsTensor) {
    const offsets = tokenOffsetsOf(SCORE_TENSORS.tauPerTokenOffsets, offsetsTensor, train, values.shape[1] ?? -1);
    expectShape(SCORE_TENSORS.tauPerToken, values, [queries, offsets[train]!]);
    out.tauPerToken = { offsets, values: finiteFloats(SCORE_TENSORS.tauPerToken, values) };
  }
  const groupTokens = decodeGroupTokens(info, take, queries, train);
  if (groupTokens) out.groupTokens = groupTokens;
  const lengths = (out.tauPerToken as { offsets: Int32Array } | undefined)?.offsets ?? groupTokens?.offsets ?? null;
  const pairTokens = decodePairTokens(take, queries, train, lengths);
  if (pairTokens) out.pairTokens = pairTokens;
  return out as Bundle['scores'];
}

/**
 * The pair token scores (the three `scores.pair_token_*` tensors, all or none): pairs [P, 2] of (query, training
 * index) in range and distinct, offsets [P + 1] into the flat values, each pair's length its training example's token
 * count when the bundle's per-token or group offsets give it.
 */
function decodePairTokens(
  take: (name: string) => SafetensorsTensor | undefined,
  queries: number,
  train: number,
  tokenOffsets: Int32Array | null,
): NonNullable<Bundle['scores']['pairTokens']> | null {
  const names = [SCORE_TENSORS.pairTokenInfluence, SCORE_TENSORS.pairTokenPairs, SCORE_TENSORS.pairTokenOffsets];
  const present = names.filter((name) => take(name) !== undefined);
  if (present.length === 0) return null;
  if (present.length !== names.length)
    throw new BundleError(
      `tensor '${names.find((n) => !present.includes(n))}' is missing: the pair token scores come together`,
    );
  const pairTensor = take(SCORE_TENSORS.pairTokenPairs)!;
  const offsetTensor = take(SCORE_TENSORS.pairTokenOffsets)!;
  const values = take(SCORE_TENSORS.pairTokenInfluence)!;
  for (const [name, tensor] of [
    [SCORE_TENSORS.pairTokenPairs, pairTensor],
    [SCORE_TENSORS.pairTokenOffsets, offsetTensor],
  ] as const) {
    if (tensor.dtype !== 'I32') throw new BundleError(`tensor '${name}' has dtype ${tensor.dtype}, expected I32`);
  }
  const count = pairTensor.shape[0] ?? -1;
  expectShape(SCORE_TENSORS.pairTokenPairs, pairTensor, [count, 2]);
  expectShape(SCORE_TENSORS.pairTokenOffsets, offsetTensor, [count + 1]);
  const total = values.shape[0] ?? -1;
  expectShape(SCORE_TENSORS.pairTokenInfluence, values, [total]);
  const pairs = tensorToArray(pairTensor) as Int32Array;
  const offsets = tensorToArray(offsetTensor) as Int32Array;
  const seen = new Set<number>();
  for (let p = 0; p < count; p++) {
    const [q, n] = [pairs[2 * p]!, pairs[2 * p + 1]!];
    if (!(q >= 0 && q < queries && n >= 0 && n < train))
      throw new BundleError(
        `tensor '${SCORE_TENSORS.pairTokenPairs}' row ${p} = (${q}, ${n}) is outside ${queries} × ${train}`,
      );
    if (seen.has(q * train + n))
      throw new BundleError(`tensor '${SCORE_TENSORS.pairTokenPairs}' row ${p} = (${q}, ${n}) repeats an earlier pair`);
    seen.add(q * train + n);
    const length = offsets[p + 1]! - offsets[p]!;
    const want = tokenOffsets ? tokenOffsets[n + 1]! - tokenOffsets[n]! : null;
    if ((p === 0 && offsets[0] !== 0) || length < 0 || (want !== null && length !== want))
      throw new BundleError(
        `tensor '${SCORE_TENSORS.pairTokenOffsets}' gives pair ${p} ${length} tokens` +
          (want !== null ? `; training example ${n} has ${want}` : ''),
      );
  }
  if (offsets[count] !== total)
    throw new BundleError(
      `tensor '${SCORE_TENSORS.pairTokenOffsets}' ends at ${offsets[count]}, not at the ${total} values`,
    );
  return { pairs, offsets, values: finiteFloats(SCORE_TENSORS.pairTokenInfluence, values) };
}

/** Offsets [N + 1] into `total` token columns: I32, from 0, non-decreasing, ending at `total`. */
function tokenOffsetsOf(name: string, tensor: SafetensorsTensor, train: number, total: number): Int32Array {
  if (tensor.dtype !== 'I32') throw new BundleError(`tensor '${name}' has dtype ${tensor.dtype}, expected I32`);
  expectShape(name, tensor, [train + 1]);
  const offsets = tensorToArray(tensor) as Int32Array;
  for (let i = 0; i <= train; i++) {
    const previous = i === 0 ? 0 : offsets[i - 1]!;
    if (
      (i === 0 && offsets[0] !== 0) ||
      offsets[i]! < previous ||
      offsets[i]! > total ||
      (i === train && offsets[i] !== total)
    ) {
      throw new BundleError(`tensor '${name}' element ${i} = ${offsets[i]} is not a valid offset into ${total} tokens`);
    }
  }
  return offsets;
}

/**
 * The group token scores (manifest `scores.tokenGroups` and the three `scores.group_token_*` tensors, all or none):
 * [G, Σ_n T_n] values, their offsets, and each query's group index in [-1, G) with every group non-empty.
 */
function decodeGroupTokens(
  info: NonNullable<BundleManifest['scores']>,
  take: (name: string) => SafetensorsTensor | undefined,
  queries: number,
  train: number,
): NonNullable<Bundle['scores']['groupTokens']> | null {
  const names = [SCORE_TENSORS.groupTokenInfluence, SCORE_TENSORS.groupTokenOffsets, SCORE_TENSORS.groupTokenQueries];
  const groups = info.tokenGroups;
  for (const name of names) {
    if ((take(name) !== undefined) !== (groups !== undefined)) {
      throw new BundleError(
        `tensor '${name}' is ${groups ? 'missing though' : 'present but'} manifest scores.tokenGroups is ` +
          `${groups ? 'set' : 'absent'} (the group token scores come together)`,
      );
    }
  }
  if (!groups) return null;
  const values = take(SCORE_TENSORS.groupTokenInfluence)!;
  const offsets = tokenOffsetsOf(SCORE_TENSORS.groupTokenOffsets, take(names[1])!, train, values.shape[1] ?? -1);
  expectShape(SCORE_TENSORS.groupTokenInfluence, values, [groups.length, offsets[train]!]);
  const queryTensor = take(SCORE_TENSORS.groupTokenQueries)!;
  if (queryTensor.dtype !== 'I32')
    throw new BundleError(`tensor '${SCORE_TENSORS.groupTokenQueries}' has dtype ${queryTensor.dtype}, expected I32`);
  expectShape(SCORE_TENSORS.groupTokenQueries, queryTensor, [queries]);
  const queryGroups = tensorToArray(queryTensor) as Int32Array;
  const sizes = new Int32Array(groups.length);
  queryGroups.forEach((g, q) => {
    if (!Number.isInteger(g) || g < -1 || g >= groups.length)
      throw new BundleError(
        `tensor '${SCORE_TENSORS.groupTokenQueries}' element ${q} = ${g} is not a group index in [-1, ${groups.length})`,
      );
    if (g >= 0) sizes[g]!++;
  });
  const empty = sizes.findIndex((size) => size === 0);
  if (empty >= 0)
    throw new BundleError(
      `manifest scores.tokenGroups[${empty}] ("${groups[empty]}") has no query in '${SCORE_TENSORS.groupTokenQueries}'`,
    );
  return {
    names: groups,
    queryGroups,
    offsets,
    values: finiteFloats(SCORE_TENSORS.groupTokenInfluence, values),
  };
}

/** Decode a picked or dropped file, refusing it by size before reading a byte of it. */
export async function decodeBundleFile(file: Blob, options: { readonly maxBytes?: number } = {}): Promise<Bundle> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  if (file.size > maxBytes) throw new BundleError(`bundle is ${file.size} bytes, over the ${maxBytes}-byte limit`);
  return decodeBundle(new Uint8Array(await file.arrayBuffer()), options);
}
