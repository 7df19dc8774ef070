/**
 * Before an evaluation runs: can its size resolve the gaps it will compare? (issue 20 §3, issue 24 §2)
 *
 * How it decides. A query's ρ over M subsets has a sampling standard deviation of about 1/√(M − 1) when the
 * prediction carries little signal (the null variance of a rank correlation), so the mean over Q queries has a 95 %
 * half-width of about 1.96 / √((M − 1)·Q). Real evaluations are noisier than that: queries differ from one another
 * and retraining adds noise. The factor `calibration` scales the formula to what a committed record measured — the
 * mean, over its strategies, of the recorded two-way half-width divided by the formula at the record's own held-out
 * Q and M (tests/unit/evaluation-power.test.ts recomputes it from the record). The gap to resolve is the one that
 * record measured between EK-FAC and identity on its held-out block (paired). The advice: the predicted half-width
 * must not exceed the gap, else the interval of the difference cannot exclude 0; the preset that can is the smallest
 * M (at the Q asked for, at most MAX_SUBSETS) whose predicted half-width is at most the gap.
 *
 * Seeds: the calibration is at the record's R; fewer seeds per subset add retraining noise the formula does not
 * model, so the advice asks for at least that R. N (training examples) enters only through the subsets' size
 * round(α·N), which must leave room for M distinct subsets.
 */

export interface NoiseReference {
  /** The record the constants come from (relative to the repository). */
  readonly record: string;
  /** Recorded two-way half-width ÷ 1.96/√((M − 1)·Q), mean over the record's strategies. */
  readonly calibration: number;
  /** |EK-FAC − identity| held-out paired difference in that record. */
  readonly gap: number;
  /** The record's seeds per subset. */
  readonly seeds: number;
}

export const RECORDED_NOISE: NoiseReference = {
  record: 'docs/experiments/records/lds-micro.json',
  // Its held-out block: 2 queries × 20 subsets, R = 2; half-widths 1.11–1.34 × the formula; identity − EK-FAC 0.340.
  calibration: 1.234,
  gap: 0.34,
  seeds: 2,
};

export const MAX_SUBSETS = 200;

/** Predicted 95 % half-width of a mean LDS (or of a paired difference) over Q queries and M subsets. */
export function predictedHalfWidth(queries: number, subsets: number, calibration = RECORDED_NOISE.calibration): number {
  if (!(queries >= 1 && subsets >= 2)) return Infinity;
  return (calibration * 1.959964) / Math.sqrt((subsets - 1) * queries);
}

export interface EvaluationAdvice {
  readonly halfWidth: number;
  readonly gap: number;
  /** The predicted interval can exclude 0 for the gap, with enough seeds. */
  readonly resolves: boolean;
  /** Seeds too few for the calibration to hold. */
  readonly fewSeeds: boolean;
  /** The smallest M that can at these queries and seeds (null when even MAX_SUBSETS cannot). */
  readonly subsetsNeeded: number | null;
  /** One or two sentences for the page. */
  readonly text: string;
}

export function evaluationAdvice(
  size: { readonly queries: number; readonly subsets: number; readonly seeds: number },
  noise: NoiseReference = RECORDED_NOISE,
): EvaluationAdvice {
  const halfWidth = predictedHalfWidth(size.queries, size.subsets, noise.calibration);
  const fewSeeds = size.seeds < noise.seeds;
  let subsetsNeeded: number | null = null;
  for (let m = 3; m <= MAX_SUBSETS; m++) {
    if (predictedHalfWidth(size.queries, m, noise.calibration) <= noise.gap) {
      subsetsNeeded = m;
      break;
    }
  }
  const resolves = halfWidth <= noise.gap && !fewSeeds;
  const seeds = `${size.seeds} seed${size.seeds === 1 ? '' : 's'}`;
  const where = `With Q = ${size.queries} queries, M = ${size.subsets} subsets and R = ${seeds} per subset`;
  const width = `the 95 % interval of an LDS (or of a paired difference) is about ±${halfWidth.toFixed(2)}`;
  const gap = `the gap between EK-FAC and identity that the committed record measured (${noise.gap.toFixed(2)})`;
  const text = resolves
    ? `${where}, ${width}: no wider than ${gap}, so an interval can exclude 0 for a gap that size.`
    : `${where}, ${width}${fewSeeds ? ` even at R ≥ ${noise.seeds} (fewer seeds add retraining noise)` : ''}: ` +
      `its intervals cannot exclude 0 for ${gap}. ` +
      (subsetsNeeded === null
        ? `No M up to ${MAX_SUBSETS} can at ${size.queries} queries: use more queries.`
        : `M = ${subsetsNeeded} subsets with R = ${Math.max(size.seeds, noise.seeds)} seeds can.`);
  return { halfWidth, gap: noise.gap, resolves, fewSeeds, subsetsNeeded, text };
}
