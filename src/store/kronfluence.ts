/**
 * kronfluence's saved-artefact layout (kronfluence 1.0.x), read and written:
 *   factors_<strategy>/  activation_covariance, gradient_covariance, activation_eigenvectors, activation_eigenvalues,
 *                        gradient_eigenvectors, gradient_eigenvalues, lambda_matrix,
 * num_activation_covariance_processed,
 *                        num_gradient_covariance_processed, num_lambda_processed — one `.safetensors` each, keyed by
 *                        module name — and factor_arguments.json;
 *   scores_<name>/       pairwise_scores.safetensors or self_scores.safetensors (`all_modules`, and one tensor per
 *                        module when per-module scores were asked for), score_arguments.json.
 * Covariances and Λ are saved as sums with their counts (checked against the fixtures: Q_A diag(λ_A) Q_Aᵀ equals
 * activation_covariance / num_activation_covariance_processed), which is how LayerFactors keeps them too.
 * The format logic sees only a FileSource, so a Node directory and a browser directory picker work the same way.
 */
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from './safetensors';
import { floatTensor, tensorFromArray, tensorToFloat64 } from './tensor-values';
import { baseName, directoryOf, type FileSource } from './file-source';
import type { FactorPart, HostMatrix, LayerFactors, ModelFactors } from '../core/schema';
import { isStrategy } from '../core/strategy';

type MatrixPart = Exclude<FactorPart, 'activationCount' | 'gradientCount' | 'lambdaCount'>;
type CountPart = 'activationCount' | 'gradientCount' | 'lambdaCount';
/** A layer's factors while its files are read one by one. */
type LayerUnderImport = { name: string } & { [P in MatrixPart]?: HostMatrix } & { [P in CountPart]?: number };
const isCountPart = (part: FactorPart): part is CountPart => part in COUNT_FILES;

export const MATRIX_FILES: Readonly<Record<MatrixPart, string>> = {
  activationCovarianceSum: 'activation_covariance',
  gradientCovarianceSum: 'gradient_covariance',
  activationEigenvectors: 'activation_eigenvectors',
  activationEigenvalues: 'activation_eigenvalues',
  gradientEigenvectors: 'gradient_eigenvectors',
  gradientEigenvalues: 'gradient_eigenvalues',
  lambdaSum: 'lambda_matrix',
};

export const COUNT_FILES: Readonly<Record<CountPart, string>> = {
  activationCount: 'num_activation_covariance_processed',
  gradientCount: 'num_gradient_covariance_processed',
  lambdaCount: 'num_lambda_processed',
};

export const PAIRWISE_SCORES_FILE = 'pairwise_scores.safetensors';
export const SELF_SCORES_FILE = 'self_scores.safetensors';
const ALL_MODULES = 'all_modules';
const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);
const INTEGER_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8']);

export class KronfluenceError extends Error {
  override name = 'KronfluenceError';
}

export interface ImportOptions {
  /** Which factors directory to read when the selection holds several (e.g. 'factors_ekfac'). */
  readonly factorsDirectory?: string;
  /** Refuse any single file larger than this before reading it (default 2 GiB). */
  readonly maxFileBytes?: number;
}

export interface KronfluenceFactors extends ModelFactors {
  readonly directory: string;
  /** factor_arguments.json as kronfluence wrote it (null when absent). */
  readonly arguments: Readonly<Record<string, unknown>> | null;
}

export interface KronfluenceScores {
  readonly directory: string;
  readonly arguments: Readonly<Record<string, unknown>> | null;
  /** `all_modules` (or the sum over modules): pairwise [Q, N] (per-token [Q, N, T]), self [N]. Raw τ. */
  readonly total: HostMatrix;
  /** Per-module scores when kronfluence saved them. */
  readonly perModule: ReadonlyMap<string, HostMatrix>;
}

export interface KronfluenceImport {
  readonly factors: KronfluenceFactors | null;
  readonly pairwise: readonly KronfluenceScores[];
  readonly self: readonly KronfluenceScores[];
}

const FACTOR_FILE_NAMES = new Set(
  [...Object.values(MATRIX_FILES), ...Object.values(COUNT_FILES)].map((name) => `${name}.safetensors`),
);

async function readChecked(source: FileSource, path: string, maxBytes: number): Promise<Uint8Array> {
  const size = source.size(path);
  if (size > maxBytes)
    throw new KronfluenceError(`${path}: ${size} bytes is over the ${maxBytes}-byte limit for one file`);
  return source.read(path);
}

async function readJsonArguments(source: FileSource, path: string): Promise<Record<string, unknown> | null> {
  if (!source.paths.includes(path)) return null;
  const bytes = await readChecked(source, path, 1 << 20);
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new KronfluenceError(`${path}: ${(error as Error).message}`);
  }
}

function toHostMatrix(tensor: SafetensorsTensor, where: string): HostMatrix {
  if (!FLOAT_DTYPES.has(tensor.dtype))
    throw new KronfluenceError(`${where}: expected a floating-point tensor, found ${tensor.dtype}`);
  const data = tensorToFloat64(tensor, where);
  const bad = data.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) throw new KronfluenceError(`${where}: element ${bad} is ${data[bad]} (NaN/Inf)`);
  return { shape: [...tensor.shape], data };
}

function toCount(tensor: SafetensorsTensor, where: string): number {
  if (
    !INTEGER_DTYPES.has(tensor.dtype) ||
    tensor.data.byteLength === 0 ||
    tensor.shape.reduce((a, b) => a * b, 1) !== 1
  ) {
    throw new KronfluenceError(
      `${where}: expected one integer, found ${tensor.dtype} of shape [${tensor.shape.join(', ')}]`,
    );
  }
  const value = tensorToFloat64(tensor, where)[0]!;
  if (value < 0) throw new KronfluenceError(`${where}: count ${value} is negative`);
  return value;
}

function chooseDirectory(candidates: string[], wanted: string | undefined, what: string): string | null {
  if (wanted !== undefined) {
    const match = candidates.find((directory) => directory === wanted || baseName(directory) === wanted);
    if (!match)
      throw new KronfluenceError(
        `no ${what} directory '${wanted}' in the selection (found: ${candidates.join(', ') || 'none'})`,
      );
    return match;
  }
  if (candidates.length > 1)
    throw new KronfluenceError(`the selection holds several ${what} directories (${candidates.join(', ')}); pick one`);
  return candidates[0] ?? null;
}

function checkLayerShapes(layer: LayerFactors, directory: string): void {
  const fail = (message: string): never => {
    throw new KronfluenceError(`${directory}: module '${layer.name}': ${message}`);
  };
  const square = (matrix: HostMatrix | undefined, file: string): number | null => {
    if (!matrix) return null;
    if (matrix.shape.length !== 2 || matrix.shape[0] !== matrix.shape[1])
      fail(`${file} has shape [${matrix.shape.join(', ')}], expected a square matrix`);
    return matrix.shape[0]!;
  };
  const vector = (values: HostMatrix | undefined, size: number | null, file: string): void => {
    if (values && size !== null && (values.shape.length !== 1 || values.shape[0] !== size))
      fail(`${file} has shape [${values.shape.join(', ')}], expected [${size}]`);
  };
  const dIn =
    square(layer.activationCovarianceSum, MATRIX_FILES.activationCovarianceSum) ??
    square(layer.activationEigenvectors, MATRIX_FILES.activationEigenvectors);
  const dOut =
    square(layer.gradientCovarianceSum, MATRIX_FILES.gradientCovarianceSum) ??
    square(layer.gradientEigenvectors, MATRIX_FILES.gradientEigenvectors);
  if (layer.activationEigenvectors && square(layer.activationEigenvectors, MATRIX_FILES.activationEigenvectors) !== dIn)
    fail(
      `activation_eigenvectors [${layer.activationEigenvectors.shape.join(', ')}] do not match the activation covariance (${dIn})`,
    );
  if (layer.gradientEigenvectors && square(layer.gradientEigenvectors, MATRIX_FILES.gradientEigenvectors) !== dOut)
    fail(
      `gradient_eigenvectors [${layer.gradientEigenvectors.shape.join(', ')}] do not match the gradient covariance (${dOut})`,
    );
  vector(layer.activationEigenvalues, dIn, MATRIX_FILES.activationEigenvalues);
  vector(layer.gradientEigenvalues, dOut, MATRIX_FILES.gradientEigenvalues);
  const lambda = layer.lambdaSum;
  if (
    lambda &&
    (lambda.shape.length !== 2 ||
      (dOut !== null && lambda.shape[0] !== dOut) ||
      (dIn !== null && lambda.shape[1] !== dIn))
  ) {
    fail(`lambda_matrix has shape [${lambda.shape.join(', ')}], expected [${dOut ?? 'dOut'}, ${dIn ?? 'dIn'}]`);
  }
}

function inferStrategy(
  args: Record<string, unknown> | null,
  layer: LayerFactors | undefined,
): ModelFactors['strategy'] {
  const named = args?.strategy;
  if (isStrategy(named)) return named;
  if (layer?.activationEigenvectors) return layer.lambdaSum ? 'ekfac' : 'kfac';
  return layer?.lambdaSum ? 'diagonal' : 'identity';
}

async function importFactors(source: FileSource, directory: string, maxBytes: number): Promise<KronfluenceFactors> {
  const prefix = directory ? `${directory}/` : '';
  const layers = new Map<string, LayerUnderImport>();
  let moduleNames: string[] | null = null;
  let firstFile = '';
  const parts: [FactorPart, string][] = [...Object.entries(MATRIX_FILES), ...Object.entries(COUNT_FILES)] as [
    FactorPart,
    string,
  ][];
  for (const [part, file] of parts) {
    const path = `${prefix}${file}.safetensors`;
    if (!source.paths.includes(path)) continue;
    const { tensors } = readSafetensors(await readChecked(source, path, maxBytes), { source: path });
    const names = [...tensors.keys()];
    if (moduleNames === null) {
      moduleNames = names;
      firstFile = path;
      for (const name of names) layers.set(name, { name });
    } else {
      const missing = moduleNames.filter((name) => !tensors.has(name));
      const extra = names.filter((name) => !layers.has(name));
      if (missing.length || extra.length) {
        throw new KronfluenceError(
          `${path}: modules differ from ${firstFile} (missing: ${missing.join(', ') || 'none'}; extra: ${extra.join(', ') || 'none'})`,
        );
      }
    }
    for (const [name, tensor] of tensors) {
      const where = `${path}: module '${name}'`;
      const layer = layers.get(name)!;
      if (isCountPart(part)) layer[part] = toCount(tensor, where);
      else layer[part] = toHostMatrix(tensor, where);
    }
  }
  const factorLayers: LayerFactors[] = [...layers.values()];
  for (const layer of factorLayers) checkLayerShapes(layer, directory || '.');
  const args = await readJsonArguments(source, `${prefix}factor_arguments.json`);
  return { directory, arguments: args, strategy: inferStrategy(args, factorLayers[0]), layers: factorLayers };
}

async function importScores(source: FileSource, path: string, maxBytes: number): Promise<KronfluenceScores> {
  const directory = directoryOf(path);
  const { tensors } = readSafetensors(await readChecked(source, path, maxBytes), { source: path });
  const perModule = new Map<string, HostMatrix>();
  let total: HostMatrix | null = null;
  for (const [name, tensor] of tensors) {
    const matrix = toHostMatrix(tensor, `${path}: '${name}'`);
    if (name === ALL_MODULES) total = matrix;
    else perModule.set(name, matrix);
  }
  if (!total) {
    const modules = [...perModule.values()];
    if (modules.length === 0)
      throw new KronfluenceError(`${path}: holds no scores (no '${ALL_MODULES}' and no module tensors)`);
    const shape = modules[0]!.shape;
    const sum = new Float64Array(modules[0]!.data.length);
    for (const [name, matrix] of perModule) {
      if (matrix.shape.join() !== shape.join())
        throw new KronfluenceError(
          `${path}: module '${name}' scores have shape [${matrix.shape.join(', ')}], others [${shape.join(', ')}]`,
        );
      matrix.data.forEach((value, i) => (sum[i] = sum[i]! + value));
    }
    total = { shape, data: sum };
  }
  const args = await readJsonArguments(source, `${directory ? `${directory}/` : ''}score_arguments.json`);
  return { directory, arguments: args, total, perModule };
}

/** Read a kronfluence output directory (or any part of one: just factors, just scores). */
export async function importKronfluence(source: FileSource, options: ImportOptions = {}): Promise<KronfluenceImport> {
  const maxBytes = options.maxFileBytes ?? 2 ** 31;
  const factorDirectories = [
    ...new Set(source.paths.filter((path) => FACTOR_FILE_NAMES.has(baseName(path))).map(directoryOf)),
  ].sort();
  const factorsDirectory = chooseDirectory(factorDirectories, options.factorsDirectory, 'factors');
  const scorePaths = (file: string) => source.paths.filter((path) => baseName(path) === file).sort();
  const result: KronfluenceImport = {
    factors: factorsDirectory === null ? null : await importFactors(source, factorsDirectory, maxBytes),
    pairwise: await Promise.all(scorePaths(PAIRWISE_SCORES_FILE).map((path) => importScores(source, path, maxBytes))),
    self: await Promise.all(scorePaths(SELF_SCORES_FILE).map((path) => importScores(source, path, maxBytes))),
  };
  if (!result.factors && result.pairwise.length === 0 && result.self.length === 0) {
    throw new KronfluenceError(
      `no kronfluence factors or scores in the selection (${source.paths.length} files; expected e.g. factors_ekfac/lambda_matrix.safetensors)`,
    );
  }
  return result;
}

/** kronfluence's FactorArguments with the values our runs use; what its loaders expect to find beside the factors. */
function factorArguments(
  strategy: ModelFactors['strategy'],
  dtype: 'F64' | 'F32',
  overrides: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const torchDtype = dtype === 'F64' ? 'torch.float64' : 'torch.float32';
  return {
    strategy,
    use_empirical_fisher: false,
    amp_dtype: null,
    amp_scale: 65536.0,
    has_shared_parameters: false,
    covariance_max_examples: 100000,
    covariance_data_partitions: 1,
    covariance_module_partitions: 1,
    activation_covariance_dtype: torchDtype,
    gradient_covariance_dtype: torchDtype,
    eigendecomposition_dtype: torchDtype,
    lambda_max_examples: 100000,
    lambda_data_partitions: 1,
    lambda_module_partitions: 1,
    use_iterative_lambda_aggregation: false,
    offload_activations_to_cpu: false,
    per_sample_gradient_dtype: torchDtype,
    lambda_dtype: torchDtype,
    ...overrides,
  };
}

/** kronfluence stores its arguments as safetensors metadata in Python's str() spelling. */
function pythonStrings(args: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(args)) {
    out[key] = value === null ? 'None' : value === true ? 'True' : value === false ? 'False' : String(value);
  }
  return out;
}

export interface ExportOptions {
  /** Float dtype of the written matrices (default F64, exact). */
  readonly dtype?: 'F64' | 'F32';
  /** Directory inside the export (default `factors_<strategy>`). */
  readonly directory?: string;
  /** Module name per layer name (default: the layer name itself). */
  readonly moduleName?: (layerName: string) => string;
  /** Fields of factor_arguments.json to set (e.g. { use_empirical_fisher: true }). */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** Our factors in kronfluence's layout: relative path → file bytes. A part is written only when every layer has it. */
export function exportKronfluenceFactors(factors: ModelFactors, options: ExportOptions = {}): Map<string, Uint8Array> {
  const dtype = options.dtype ?? 'F64';
  const directory = options.directory ?? `factors_${factors.strategy}`;
  const moduleName = options.moduleName ?? ((name: string) => name);
  const args = factorArguments(factors.strategy, dtype, options.arguments ?? {});
  const metadata = pythonStrings(args);
  const files = new Map<string, Uint8Array>();
  const parts = [...Object.entries(MATRIX_FILES), ...Object.entries(COUNT_FILES)] as [FactorPart, string][];
  for (const [part, file] of parts) {
    const present = factors.layers.filter((layer) => layer[part] !== undefined);
    if (present.length === 0) continue;
    if (present.length !== factors.layers.length) {
      const missing = factors.layers.filter((layer) => layer[part] === undefined).map((layer) => layer.name);
      throw new KronfluenceError(`cannot export ${file}: layers ${missing.join(', ')} do not have it yet`);
    }
    const tensors = new Map<string, SafetensorsTensor>();
    for (const layer of factors.layers) {
      const name = moduleName(layer.name);
      if (tensors.has(name)) throw new KronfluenceError(`two layers map to module name '${name}'`);
      const value = layer[part]!;
      tensors.set(
        name,
        typeof value === 'number'
          ? tensorFromArray('I64', [1], BigInt64Array.of(BigInt(value)))
          : floatTensor(value.shape, value.data, dtype),
      );
    }
    files.set(`${directory}/${file}.safetensors`, writeSafetensors(tensors, metadata));
  }
  files.set(`${directory}/factor_arguments.json`, new TextEncoder().encode(JSON.stringify(args, null, 4)));
  return files;
}

/**
 * Raw τ in kronfluence's score layout: scores_pairwise/pairwise_scores.safetensors and
 * scores_self/self_scores.safetensors.
 */
export function exportKronfluenceScores(
  scores: { readonly tau?: HostMatrix; readonly selfTau?: HostMatrix },
  dtype: 'F64' | 'F32' = 'F64',
): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  if (scores.tau)
    files.set(
      `scores_pairwise/${PAIRWISE_SCORES_FILE}`,
      writeSafetensors({ [ALL_MODULES]: floatTensor(scores.tau.shape, scores.tau.data, dtype) }),
    );
  if (scores.selfTau)
    files.set(
      `scores_self/${SELF_SCORES_FILE}`,
      writeSafetensors({ [ALL_MODULES]: floatTensor(scores.selfTau.shape, scores.selfTau.data, dtype) }),
    );
  if (files.size === 0) throw new KronfluenceError('no scores to export');
  return files;
}
