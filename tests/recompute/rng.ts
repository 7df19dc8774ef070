/**
 * The recomputation's own seeded generator (it imports nothing from src, so that it checks the engine
 * independently): mulberry32, uniform [0, 1) from a 32-bit seed, the same stream src/models/weights.ts draws.
 */
export function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
