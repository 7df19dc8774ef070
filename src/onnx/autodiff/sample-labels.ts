/**
 * Labels for the loss inputs of a gradient graph: shifted next-token labels from the data, and labels (or regression
 * targets) sampled from the model's own predictive distribution (the true Fisher) from a first forward pass.
 *
 * Sampling is reproducible and independent of how examples are batched: the uniform draw for (row, position) is a
 * pure function of (seed, rowKey, position) — a counter-based generator — so the same example sampled in a different
 * batch, at a different batch index or with different padding gets the same label. The generator: the 32-bit words
 * (seed, rowKey, position) are mixed with the murmur3 finaliser chain below into 53 bits, u = bits / 2^53 ∈ [0, 1);
 * the label is the smallest k with Σ_{j≤k} softmax(logits)_j > u (inverse CDF, computed in float64).
 */

/** 32-bit murmur3 finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform draw in [0, 1) with 53 random bits, determined by (seed, rowKey, position) alone. */
export function counterUniform(seed: number, rowKey: number, position: number): number {
  const a = fmix32((seed ^ 0x9e3779b9) >>> 0);
  const b = fmix32((a ^ Math.imul(rowKey >>> 0, 0x27d4eb2f)) >>> 0);
  const hi = fmix32((b ^ Math.imul(position >>> 0, 0x165667b1) ^ 0x1b873593) >>> 0);
  const lo = fmix32((hi ^ 0xcc9e2d51 ^ b) >>> 0);
  return ((hi >>> 5) * 67108864 + (lo >>> 6)) / 9007199254740992;
}

export interface SampleLabelsOptions {
  /** Logits [rows, positions, vocab] flattened row-major (rows × positions × vocab); rank 2 logits: positions = 1. */
  readonly logits: Float32Array | Float64Array;
  readonly dims: readonly [rows: number, positions: number, vocab: number];
  /** [rows × positions]; 0 marks positions not to sample (they get label 0). Omitted: sample everywhere. */
  readonly mask?: ArrayLike<number>;
  readonly seed: number;
  /**
   * A stable key per row (e.g. the example's index in the dataset) so that batching does not change a sample. Default:
   * the row index.
   */
  readonly rowKeys?: ArrayLike<number>;
}

/** Draw one label per (row, position) from softmax(logits); int64 as the graphs' `labels` input expects. */
export function sampleLabels(options: SampleLabelsOptions): BigInt64Array {
  const { logits, dims, mask, seed, rowKeys } = options;
  const [rows, positions, vocab] = dims;
  if (logits.length !== rows * positions * vocab) {
    throw new Error(
      `sampleLabels: logits has ${logits.length} values, dims [${dims.join(', ')}] need ${rows * positions * vocab}`,
    );
  }
  if (mask && mask.length !== rows * positions)
    throw new Error(`sampleLabels: mask has ${mask.length} values, expected ${rows * positions}`);
  if (rowKeys && rowKeys.length !== rows)
    throw new Error(`sampleLabels: rowKeys has ${rowKeys.length} values, expected ${rows}`);
  const labels = new BigInt64Array(rows * positions);
  const probabilities = new Float64Array(vocab);
  for (let row = 0; row < rows; row++) {
    const key = rowKeys ? rowKeys[row] : row;
    for (let position = 0; position < positions; position++) {
      const cell = row * positions + position;
      if (mask && mask[cell] === 0) continue;
      const offset = cell * vocab;
      let max = -Infinity;
      for (let k = 0; k < vocab; k++) max = Math.max(max, logits[offset + k]);
      if (!Number.isFinite(max)) throw new Error(`sampleLabels: non-finite logits at row ${row}, position ${position}`);
      let total = 0;
      for (let k = 0; k < vocab; k++) total += probabilities[k] = Math.exp(logits[offset + k] - max);
      const threshold = counterUniform(seed, key, position) * total;
      let label = vocab - 1;
      let cumulative = 0;
      for (let k = 0; k < vocab; k++) {
        cumulative += probabilities[k];
        if (cumulative > threshold) {
          label = k;
          break;
        }
      }
      labels[cell] = BigInt(label);
    }
  }
  return labels;
}

export interface SampleTargetsOptions {
  /** Model outputs of an MSE graph, any shape, flattened row-major: [rows × perRow]. */
  readonly outputs: Float32Array | Float64Array;
  readonly rows: number;
  readonly seed: number;
  /** A stable key per row (as for sampleLabels). Default: the row index. */
  readonly rowKeys?: ArrayLike<number>;
}

/**
 * Regression targets from the model's predictive distribution (true Fisher for the MSE graphs): the loss Σ (y − t)²
 * is the negative log-likelihood of t ~ N(y, ½) up to a constant, so t = y + √½·z with z standard normal
 * (kronfluence's regression examples sample the same way). z comes from two counter draws per value (Box–Muller),
 * keyed like sampleLabels by (seed, rowKey, 2·index) and (seed, rowKey, 2·index + 1).
 */
export function sampleRegressionTargets(options: SampleTargetsOptions): Float64Array {
  const { outputs, rows, seed, rowKeys } = options;
  if (rows < 1 || outputs.length % rows !== 0)
    throw new Error(`sampleRegressionTargets: ${outputs.length} outputs do not split into ${rows} rows`);
  if (rowKeys && rowKeys.length !== rows)
    throw new Error(`sampleRegressionTargets: rowKeys has ${rowKeys.length} values, expected ${rows}`);
  const perRow = outputs.length / rows;
  const targets = new Float64Array(outputs.length);
  for (let row = 0; row < rows; row++) {
    const key = rowKeys ? rowKeys[row] : row;
    for (let i = 0; i < perRow; i++) {
      const radius = Math.sqrt(-2 * Math.log(1 - counterUniform(seed, key, 2 * i)));
      const normal = radius * Math.cos(2 * Math.PI * counterUniform(seed, key, 2 * i + 1));
      targets[row * perRow + i] = outputs[row * perRow + i] + Math.SQRT1_2 * normal;
    }
  }
  return targets;
}

export interface NextTokenTargets {
  /** labels[b, t] = input_ids[b, t+1] on response targets, else 0. */
  readonly labels: BigInt64Array;
  /** 1 on response targets t = promptLen−1 … length−2, else 0 (prompt, last token, padding). */
  readonly lossMask: Float32Array | Float64Array;
}

/**
 * Given-label targets for a right-padded batch of token ids [rows, positions]: the target at position t is the token
 * at t+1, and only response tokens are predicted (the first response token from the last prompt token).
 */
export function nextTokenTargets(
  inputIds: ArrayLike<bigint | number>,
  dims: readonly [rows: number, positions: number],
  promptLengths: ArrayLike<number>,
  lengths: ArrayLike<number>,
  floatType: 'float32' | 'float64' = 'float32',
): NextTokenTargets {
  const [rows, positions] = dims;
  if (inputIds.length !== rows * positions)
    throw new Error(`nextTokenTargets: ${inputIds.length} ids for dims [${rows}, ${positions}]`);
  const labels = new BigInt64Array(rows * positions);
  const lossMask = floatType === 'float64' ? new Float64Array(rows * positions) : new Float32Array(rows * positions);
  for (let row = 0; row < rows; row++) {
    const promptLength = promptLengths[row];
    const length = lengths[row];
    if (!(promptLength >= 1 && promptLength <= length && length <= positions)) {
      throw new Error(
        `nextTokenTargets: row ${row} has prompt length ${promptLength} and length ${length} (positions ${positions})`,
      );
    }
    for (let t = promptLength - 1; t < length - 1; t++) {
      labels[row * positions + t] = BigInt(inputIds[row * positions + t + 1]);
      lossMask[row * positions + t] = 1;
    }
  }
  return { labels, lossMask };
}
