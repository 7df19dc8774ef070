/**
 * The manifest of an `.iwb` bundle (docs/bundle-format.md): a JSON object stored as a string under
 * `__metadata__["iwb.manifest"]`. Everything read from a bundle is untrusted: this module checks every field's type
 * and range and rebuilds the manifest from known fields only, so nothing unexpected travels further.
 */
import type { DatasetRow } from '../core/schema';
import { isStrategy, STRATEGIES_PLAINEST_FIRST, type Strategy } from '../core/strategy';

export const BUNDLE_FORMAT = 'influence-workbench-bundle';
export const BUNDLE_VERSION = 1;
export const MANIFEST_KEY = 'iwb.manifest';
export const MANIFEST_SHA256_KEY = 'iwb.manifest.sha256';

export const BUNDLE_STAGES = ['covariance', 'eigen', 'lambda', 'scores', 'self'] as const;
export type BundleStage = (typeof BUNDLE_STAGES)[number];

/** Why bytes are not a valid bundle. Decoding either returns a whole, checked bundle or throws this. */
export class BundleError extends Error {
  override name = 'BundleError';
}

export interface Fingerprint {
  /** A file name or a description ("demo model"); shown to users, never interpreted. */
  readonly name: string;
  /** Lower-case hex sha256 of the exact bytes. */
  readonly sha256: string;
  readonly bytes: number;
}

export interface BundleLayer {
  readonly name: string;
  readonly weightName?: string;
  readonly dIn: number;
  readonly dOut: number;
  readonly hasBias: boolean;
  readonly activationCount?: number;
  readonly gradientCount?: number;
  readonly lambdaCount?: number;
  /** δ used when scoring. */
  readonly damping?: number;
}

export interface BundleScoresInfo {
  readonly queries: number;
  readonly train: number;
  /** The run's measurement, e.g. 'mean-log-likelihood'; says how `scores.influence` relates to `scores.tau`. */
  readonly measurement: string;
  /**
   * The query groups (benchmarks) of the `scores.group_token_*` tensors, in their row order; absent when the bundle
   * has none (bundles written before them, runs with group token scores off).
   */
  readonly tokenGroups?: readonly string[];
}

export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: number;
  readonly createdAt: string;
  readonly generator: string;
  readonly model: Fingerprint | null;
  /** The model's external data files (`model.onnx.data`), by the names its graph gives them; absent when none. */
  readonly modelData?: readonly Fingerprint[];
  readonly datasets: { readonly train: Fingerprint | null; readonly query: Fingerprint | null };
  readonly strategy: Strategy;
  /** The run's configuration as JSON (AttributionConfig for our runs); shown, never executed. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly backend: string | null;
  readonly stages: readonly BundleStage[];
  readonly layers: readonly BundleLayer[];
  readonly scores: BundleScoresInfo | null;
  /** sha256 (hex) of each tensor's raw bytes, by tensor name. */
  readonly tensors: Readonly<Record<string, { readonly sha256: string }>>;
  /** Rows needed to show the results; null when the user left them out. */
  readonly rows: { readonly train: readonly DatasetRow[]; readonly query: readonly DatasetRow[] } | null;
  /** The evaluation against retraining (LDS, leave-one-out) when the bundle carries one (`eval.*` tensors). */
  readonly evaluation: BundleEvaluationInfo | null;
}

/** The protocol's parameters (src/eval's EvaluationConfig), as the bundle keeps them. */
export interface BundleEvaluationConfig {
  /** M */
  readonly subsets: number;
  /** α */
  readonly fraction: number;
  /** R */
  readonly seedsPerSubset: number;
  /** k: leave-one-out for each query's top and bottom k (0: none). */
  readonly looPerQuery: number;
  readonly looStrategy: Strategy | null;
  readonly seed: number;
  readonly bootstrapSamples: number;
}

/** One strategy's LDS summary: the mean over ranked queries with its bootstrap 95 % interval (null: none ranked). */
export interface BundleEvaluationStrategy {
  readonly strategy: Strategy;
  readonly mean: number | null;
  readonly low: number | null;
  readonly high: number | null;
  /** Queries with a defined LDS (the ones `eval.lds.<strategy>.ranked` marks). */
  readonly queries: number;
  /** Leave-one-out correlations of predicted and actual change (null without LOO, or when undefined). */
  readonly looPearson: number | null;
  readonly looSpearman: number | null;
}

export interface BundleEvaluationInfo {
  readonly config: BundleEvaluationConfig;
  readonly measurement: string;
  /** How the model was (re)trained, as JSON; shown, never executed. */
  readonly training: Readonly<Record<string, unknown>> | null;
  readonly strategies: readonly BundleEvaluationStrategy[];
  /** K: training examples left out one at a time (0 without LOO). */
  readonly looExamples: number;
}

type Fail = (message: string) => never;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function field<T>(
  object: Record<string, unknown>,
  key: string,
  path: string,
  check: (value: unknown) => value is T,
  want: string,
  fail: Fail,
): T {
  const value = object[key];
  if (!check(value)) fail(`manifest ${path}${key}: expected ${want}, found ${JSON.stringify(value)?.slice(0, 60)}`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isPositiveCount = (value: unknown): value is number => isCount(value) && value > 0;
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isGroupNames = (value: unknown): value is string[] =>
  Array.isArray(value) &&
  value.length > 0 &&
  value.every((name) => typeof name === 'string' && name.length > 0) &&
  new Set(value).size === value.length;
const isSha256 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);

function optional<T>(
  object: Record<string, unknown>,
  key: string,
  path: string,
  check: (value: unknown) => value is T,
  want: string,
  fail: Fail,
): T | undefined {
  return object[key] === undefined ? undefined : field(object, key, path, check, want, fail);
}

function fingerprint(value: unknown, path: string, fail: Fail): Fingerprint | null {
  if (value === null) return null;
  if (!isObject(value)) fail(`manifest ${path}: expected an object or null`);
  return {
    name: field(value, 'name', `${path}.`, isString, 'a string', fail),
    sha256: field(value, 'sha256', `${path}.`, isSha256, '64 lower-case hex digits', fail),
    bytes: field(value, 'bytes', `${path}.`, isCount, 'a byte count', fail),
  };
}

/** The optional `modelData` list: each entry a fingerprint (bundles before it, and models without data, omit it). */
function modelData(value: unknown, fail: Fail): { modelData?: Fingerprint[] } {
  if (value === undefined) return {};
  if (!Array.isArray(value)) fail('manifest modelData: expected an array of file fingerprints');
  return {
    modelData: value.map((entry: unknown, i: number) => {
      if (entry === null) fail(`manifest modelData[${i}]: expected an object`);
      return fingerprint(entry, `modelData[${i}]`, fail)!;
    }),
  };
}

function layer(value: unknown, index: number, fail: Fail): BundleLayer {
  const path = `layers[${index}].`;
  if (!isObject(value)) fail(`manifest layers[${index}]: expected an object`);
  const weightName = optional(value, 'weightName', path, isString, 'a string', fail);
  const activationCount = optional(value, 'activationCount', path, isPositiveCount, 'a positive integer', fail);
  const gradientCount = optional(value, 'gradientCount', path, isPositiveCount, 'a positive integer', fail);
  const lambdaCount = optional(value, 'lambdaCount', path, isPositiveCount, 'a positive integer', fail);
  const damping = optional(value, 'damping', path, isFiniteNumber, 'a finite number', fail);
  return {
    name: field(value, 'name', path, isString, 'a string', fail),
    ...(weightName !== undefined && { weightName }),
    dIn: field(value, 'dIn', path, isPositiveCount, 'a positive integer', fail),
    dOut: field(value, 'dOut', path, isPositiveCount, 'a positive integer', fail),
    hasBias: field(value, 'hasBias', path, isBoolean, 'true or false', fail),
    ...(activationCount !== undefined && { activationCount }),
    ...(gradientCount !== undefined && { gradientCount }),
    ...(lambdaCount !== undefined && { lambdaCount }),
    ...(damping !== undefined && { damping }),
  };
}

const ROW_TEXT_FIELDS = ['text', 'prompt', 'response', 'domain', 'difficulty', 'benchmark'] as const;

function row(value: unknown, path: string, fail: Fail): DatasetRow {
  if (!isObject(value)) fail(`manifest ${path}: expected an object`);
  const out: { -readonly [K in keyof DatasetRow]: DatasetRow[K] } = {
    id: field(value, 'id', `${path}.`, isString, 'a string', fail),
  };
  for (const key of ROW_TEXT_FIELDS) {
    const text = optional(value, key, `${path}.`, isString, 'a string', fail);
    if (text !== undefined) out[key] = text;
  }
  if (value.segments !== undefined) {
    if (!Array.isArray(value.segments)) fail(`manifest ${path}.segments: expected a list`);
    out.segments = value.segments.map((segment: unknown, i: number) => {
      const at = `${path}.segments[${i}].`;
      if (!isObject(segment)) fail(`manifest ${at.slice(0, -1)}: expected an object`);
      const start = field(segment, 'start', at, isCount, 'a position', fail);
      const end = field(segment, 'end', at, isCount, 'a position', fail);
      if (end < start) fail(`manifest ${at}end ${end} is before start ${start}`);
      return { label: field(segment, 'label', at, isString, 'a string', fail), start, end };
    });
  }
  if (value.tokens !== undefined) {
    if (!Array.isArray(value.tokens) || !value.tokens.every(isString))
      fail(`manifest ${path}.tokens: expected a list of strings`);
    out.tokens = [...value.tokens];
  }
  if (value.tokenCategories !== undefined) {
    const categories = value.tokenCategories;
    if (!Array.isArray(categories) || !categories.every((c) => isCount(c) && c < 256)) {
      fail(`manifest ${path}.tokenCategories: expected a list of category indices (0–255)`);
    }
    out.tokenCategories = [...categories];
  }
  if (value.tokenLoss !== undefined) {
    const loss = value.tokenLoss;
    if (!Array.isArray(loss) || !loss.every((l) => l === null || (isFiniteNumber(l) && l >= 0)))
      fail(`manifest ${path}.tokenLoss: expected a list of losses (finite numbers ≥ 0, or null where not measured)`);
    out.tokenLoss = [...loss];
  }
  if (value.measured !== undefined) {
    if (!Array.isArray(value.measured) || value.measured.length === 0)
      fail(`manifest ${path}.measured: expected a non-empty list of {start, end}`);
    out.measured = value.measured.map((span: unknown, i: number) => {
      const at = `${path}.measured[${i}].`;
      if (!isObject(span)) fail(`manifest ${at.slice(0, -1)}: expected an object`);
      const start = field(span, 'start', at, isCount, 'a position', fail);
      const end = field(span, 'end', at, isCount, 'a position', fail);
      if (end <= start) fail(`manifest ${at}end ${end} is not after start ${start}`);
      return { start, end };
    });
  }
  return out;
}

function rows(value: unknown, fail: Fail): BundleManifest['rows'] {
  if (value === null) return null;
  if (!isObject(value) || !Array.isArray(value.train) || !Array.isArray(value.query)) {
    fail('manifest rows: expected null or { train: [...], query: [...] }');
  }
  return {
    train: (value.train as unknown[]).map((entry, i) => row(entry, `rows.train[${i}]`, fail)),
    query: (value.query as unknown[]).map((entry, i) => row(entry, `rows.query[${i}]`, fail)),
  };
}

const isCorrelation = (value: unknown): value is number | null =>
  value === null || (isFiniteNumber(value) && value >= -1 && value <= 1);
const isSeed = (value: unknown): value is number => isCount(value);

/** Check and rebuild a manifest's `evaluation` (its tensors are checked against it by bundle-eval.ts). */
function evaluation(value: unknown, fail: Fail): BundleEvaluationInfo | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) fail('manifest evaluation: expected an object or null');
  const config = value.config;
  if (!isObject(config)) fail('manifest evaluation.config: expected an object');
  const at = 'evaluation.config.';
  const fraction = field(config, 'fraction', at, isFiniteNumber, 'a number', fail);
  if (!(fraction > 0 && fraction < 1))
    fail(`manifest evaluation.config.fraction: expected 0 < α < 1, found ${fraction}`);
  const subsets = field(config, 'subsets', at, isCount, 'an integer', fail);
  if (subsets < 2) fail(`manifest evaluation.config.subsets: expected at least 2 subsets, found ${subsets}`);
  const looStrategy = config.looStrategy;
  if (looStrategy !== null && !isStrategy(looStrategy))
    fail(`manifest evaluation.config.looStrategy: expected a strategy or null, found ${JSON.stringify(looStrategy)}`);
  if (!Array.isArray(value.strategies) || value.strategies.length === 0)
    fail('manifest evaluation.strategies: expected a non-empty list');
  const strategies = value.strategies.map((entry: unknown, i: number): BundleEvaluationStrategy => {
    const path = `evaluation.strategies[${i}].`;
    if (!isObject(entry)) fail(`manifest ${path.slice(0, -1)}: expected an object`);
    const strategy = entry.strategy;
    if (!isStrategy(strategy))
      fail(
        `manifest ${path}strategy: expected ${STRATEGIES_PLAINEST_FIRST.join(', ')}, found ${JSON.stringify(strategy)}`,
      );
    return {
      strategy: strategy as Strategy,
      mean: field(entry, 'mean', path, isCorrelation, 'a number in [−1, 1] or null', fail),
      low: field(entry, 'low', path, isCorrelation, 'a number in [−1, 1] or null', fail),
      high: field(entry, 'high', path, isCorrelation, 'a number in [−1, 1] or null', fail),
      queries: field(entry, 'queries', path, isCount, 'a query count', fail),
      looPearson: field(entry, 'looPearson', path, isCorrelation, 'a number in [−1, 1] or null', fail),
      looSpearman: field(entry, 'looSpearman', path, isCorrelation, 'a number in [−1, 1] or null', fail),
    };
  });
  const names = strategies.map((s) => s.strategy);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) fail(`manifest evaluation.strategies lists ${repeated} twice`);
  const training = value.training;
  if (training !== null && !isObject(training)) fail('manifest evaluation.training: expected an object or null');
  return {
    config: {
      subsets,
      fraction,
      seedsPerSubset: field(config, 'seedsPerSubset', at, isPositiveCount, 'a positive integer', fail),
      looPerQuery: field(config, 'looPerQuery', at, isCount, 'an integer ≥ 0', fail),
      looStrategy: looStrategy as Strategy | null,
      seed: field(config, 'seed', at, isSeed, 'an integer ≥ 0', fail),
      bootstrapSamples: field(config, 'bootstrapSamples', at, isPositiveCount, 'a positive integer', fail),
    },
    measurement: field(value, 'measurement', 'evaluation.', isString, 'a string', fail),
    training: training === null ? null : (JSON.parse(JSON.stringify(training)) as Record<string, unknown>),
    strategies,
    looExamples: field(value, 'looExamples', 'evaluation.', isCount, 'an integer ≥ 0', fail),
  };
}

/** Check and rebuild a parsed manifest (fields only; the tensors are checked against it by bundle.ts). */
export function validateManifest(parsed: unknown, fail: Fail): BundleManifest {
  if (!isObject(parsed)) fail('manifest is not a JSON object');
  if (parsed.format !== BUNDLE_FORMAT)
    fail(`manifest format is ${JSON.stringify(parsed.format)}, not "${BUNDLE_FORMAT}"`);
  const version = field(parsed, 'version', '', isPositiveCount, 'a positive integer', fail);
  if (version !== BUNDLE_VERSION)
    fail(`unknown bundle version ${version} (this workbench reads version ${BUNDLE_VERSION})`);
  const datasets = parsed.datasets;
  if (!isObject(datasets)) fail('manifest datasets: expected an object');
  const strategy = parsed.strategy;
  if (!isStrategy(strategy)) {
    const names = STRATEGIES_PLAINEST_FIRST;
    fail(
      `manifest strategy: expected ${names.slice(0, -1).join(', ')} or ${names.at(-1)}, found ${JSON.stringify(strategy)}`,
    );
  }
  if (!isObject(parsed.config)) fail('manifest config: expected an object');
  const backend = parsed.backend === null ? null : field(parsed, 'backend', '', isString, 'a string or null', fail);
  const stages = parsed.stages;
  if (
    !Array.isArray(stages) ||
    !stages.every((stage) => (BUNDLE_STAGES as readonly unknown[]).includes(stage)) ||
    new Set(stages).size !== stages.length
  ) {
    fail(
      `manifest stages: expected distinct names from ${BUNDLE_STAGES.join(', ')}, found ${JSON.stringify(stages)?.slice(0, 80)}`,
    );
  }
  if (!Array.isArray(parsed.layers)) fail('manifest layers: expected a list');
  let scores: BundleScoresInfo | null = null;
  if (parsed.scores !== null) {
    const info = parsed.scores;
    if (!isObject(info)) fail('manifest scores: expected an object or null');
    scores = {
      queries: field(info, 'queries', 'scores.', isPositiveCount, 'a positive integer', fail),
      train: field(info, 'train', 'scores.', isPositiveCount, 'a positive integer', fail),
      measurement: field(info, 'measurement', 'scores.', isString, 'a string', fail),
    };
    const groups = optional(info, 'tokenGroups', 'scores.', isGroupNames, 'a list of distinct non-empty strings', fail);
    if (groups !== undefined) scores = { ...scores, tokenGroups: groups };
  }
  const tensors = parsed.tensors;
  if (!isObject(tensors)) fail('manifest tensors: expected an object');
  const checksums: Record<string, { sha256: string }> = {};
  for (const [name, entry] of Object.entries(tensors)) {
    if (!isObject(entry)) fail(`manifest tensors["${name}"]: expected an object`);
    checksums[name] = {
      sha256: field(entry, 'sha256', `tensors["${name}"].`, isSha256, '64 lower-case hex digits', fail),
    };
  }
  return {
    format: BUNDLE_FORMAT,
    version,
    createdAt: field(parsed, 'createdAt', '', isString, 'a string', fail),
    generator: field(parsed, 'generator', '', isString, 'a string', fail),
    model: fingerprint(parsed.model, 'model', fail),
    ...modelData(parsed.modelData, fail),
    datasets: {
      train: fingerprint(datasets.train, 'datasets.train', fail),
      query: fingerprint(datasets.query, 'datasets.query', fail),
    },
    strategy: strategy as Strategy,
    config: JSON.parse(JSON.stringify(parsed.config)) as Record<string, unknown>,
    backend,
    stages: stages as BundleStage[],
    layers: parsed.layers.map((entry: unknown, i: number) => layer(entry, i, fail)),
    scores,
    tensors: checksums,
    rows: rows(parsed.rows, fail),
    evaluation: evaluation(parsed.evaluation, fail),
  };
}
