/**
 * The arms of the group-level retraining (issue 24 §3): per group, the pool with the group removed and with the
 * group up-weighted by k, each as per-example mixture weights (the training loop samples ∝ weight; the original
 * mixture is weight 1 everywhere). The group's domain keeps its sampling mass: a removed group's mass goes to the
 * other examples of its domain, an up-weighted group's extra mass is taken from them, in proportion (so the change
 * is in the mix inside the domain, and the domain composition cannot explain it). The first-order prediction of any
 * such reweighting is Σₙ (wₙ − 1)·I(n) / N (docs/method.md §4), compensation included.
 */

export interface GroupMember {
  readonly domain: string;
  /** The group the example belongs to (e.g. "math/hard"). */
  readonly group: string;
}

export type GroupArm = 'remove' | 'upweight';
export const GROUP_ARMS: readonly GroupArm[] = ['remove', 'upweight'];

/**
 * Per-example weights for one (group, arm): the group's examples get 0 (remove) or k·c (upweight), the rest of the
 * domain c, with c chosen so the domain's total weight equals its example count; other domains keep weight 1.
 */
export function groupArmWeights(
  pool: readonly GroupMember[],
  group: string,
  arm: GroupArm,
  factor: number,
): Float64Array {
  if (!(factor > 1 && Number.isFinite(factor))) throw new Error(`group arms: factor must be > 1, got ${factor}`);
  const members = pool.filter((e) => e.group === group);
  if (members.length === 0) throw new Error(`group arms: no pool example is in group "${group}"`);
  const domain = members[0]!.domain;
  if (members.some((e) => e.domain !== domain))
    throw new Error(`group arms: group "${group}" spans more than one domain`);
  const domainCount = pool.filter((e) => e.domain === domain).length;
  const inGroup = members.length;
  const rest = domainCount - inGroup;
  if (arm === 'remove' && rest === 0)
    throw new Error(`group arms: group "${group}" is all of domain "${domain}"; removing it cannot keep the domain`);
  const groupWeight = arm === 'remove' ? 0 : factor;
  // c·rest + groupWeight·c·inGroup = domainCount (upweight); c·rest = domainCount (remove).
  const c = domainCount / (rest + groupWeight * inGroup);
  return Float64Array.from(pool, (e) => (e.domain !== domain ? 1 : e.group === group ? groupWeight * c : c));
}

/** Σₙ (wₙ − 1)·I(n) / N: the first-order change of the measurement under mixture weights w (mean 1). */
export function predictedChange(weights: ArrayLike<number>, influence: ArrayLike<number>): number {
  if (weights.length !== influence.length)
    throw new Error(`group arms: ${weights.length} weights for ${influence.length} influence values`);
  let sum = 0;
  for (let n = 0; n < weights.length; n++) sum += (weights[n]! - 1) * influence[n]!;
  return sum / weights.length;
}

/** A pool example for token-level groups (segment types): each token position's group, null outside any group. */
export interface TokenGroupExample {
  readonly domain: string;
  /** Per token position of the sequence: the group of the loss term that predicts it (null: prompt, unlabelled). */
  readonly tokenGroups: readonly (string | null)[];
}

/**
 * Per-token loss weights for one (segment group, arm): the group's tokens get 0 (remove) or k·c (upweight), the other
 * grouped tokens of the group's domain c, with c chosen so the domain's total token weight is its token count (the
 * same rule as groupArmWeights, over tokens); tokens of other domains and ungrouped tokens keep 1.
 */
export function segmentArmWeights(
  pool: readonly TokenGroupExample[],
  group: string,
  arm: GroupArm,
  factor: number,
): Float64Array[] {
  if (!(factor > 1 && Number.isFinite(factor))) throw new Error(`group arms: factor must be > 1, got ${factor}`);
  const owner = pool.find((e) => e.tokenGroups.includes(group));
  if (!owner) throw new Error(`group arms: no pool token is in group "${group}"`);
  const domain = owner.domain;
  let domainTokens = 0;
  let groupTokens = 0;
  for (const e of pool) {
    for (const g of e.tokenGroups) {
      if (g === null) continue;
      if (g === group && e.domain !== domain)
        throw new Error(`group arms: group "${group}" spans more than one domain`);
      if (e.domain === domain) domainTokens++;
      if (g === group) groupTokens++;
    }
  }
  const own = arm === 'remove' ? 0 : factor;
  if (domainTokens === groupTokens && arm === 'remove')
    throw new Error(`group arms: group "${group}" is all of domain "${domain}"; removing it cannot keep the domain`);
  const c = domainTokens / (domainTokens - groupTokens + own * groupTokens);
  return pool.map((e) =>
    Float64Array.from(e.tokenGroups, (g) => (g === null || e.domain !== domain ? 1 : g === group ? own * c : c)),
  );
}

/** Σₙ Σₜ (wₙₜ − 1)·I(n, t) / N: the first-order change under per-token loss weights (N: pool examples). */
export function predictedTokenChange(
  weights: readonly ArrayLike<number>[],
  influence: readonly ArrayLike<number>[],
): number {
  if (weights.length !== influence.length)
    throw new Error(`group arms: token weights for ${weights.length} examples, influence for ${influence.length}`);
  let sum = 0;
  weights.forEach((w, n) => {
    if (w.length !== influence[n]!.length)
      throw new Error(`group arms: example ${n} has ${w.length} token weights and ${influence[n]!.length} influences`);
    for (let t = 0; t < w.length; t++) sum += (w[t]! - 1) * influence[n]![t]!;
  });
  return sum / weights.length;
}
