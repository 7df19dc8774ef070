/**
 * The lab's diverging scale: purple = helps (raises the query's log-likelihood), orange = harms, white = none.
 * ColorBrewer's PuOr end points, which stay apart for the common colour-vision deficiencies.
 */
const HELPS = [94, 60, 153];
const NEUTRAL = [247, 247, 247];
const HARMS = [230, 97, 1];

export const HELPS_COLOUR = `rgb(${HELPS.join(',')})`;
export const HARMS_COLOUR = `rgb(${HARMS.join(',')})`;

/** t in [−1, 1]: −1 harms, +1 helps. */
export function divergingColour(t: number): string {
  const clamped = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const end = clamped >= 0 ? HELPS : HARMS;
  const w = Math.abs(clamped);
  const mix = NEUTRAL.map((c, i) => Math.round(c + (end[i] - c) * w));
  return `rgb(${mix.join(',')})`;
}

/** Largest |v| (1 when all are 0, so scales never divide by 0). */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) m = Math.max(m, Math.abs(values[i]));
  return m > 0 ? m : 1;
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e4 ? v.toPrecision(3) : v.toExponential(2);
}
