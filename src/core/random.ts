/**
 * Seeded random numbers: the same seed gives the same sequence in Node and in every browser, so weights, subsets,
 * bootstrap resamples and the lab's points are reproducible. A leaf: it imports nothing.
 */

/** Deterministic uniform [0, 1) generator (mulberry32): the same seed gives the same weights everywhere. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from a uniform generator (Box–Muller). */
export function seededNormal(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform(); // (0, 1]: keeps log finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}
