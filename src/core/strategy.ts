/**
 * The preconditioning strategies, spelled once: every list, check and type of strategy names derives from
 * STRATEGY_NAMES (tests/unit/strategy-names.test.ts refuses a hand-written union elsewhere in src/).
 *
 * identity: P = G_q (plain gradient dot product); diagonal: Λ = mean_n G(n)∘² in the parameter basis;
 * kfac: Λ = λ_S ⊗ λ_A; ekfac: Λ = mean_n (Q_Sᵀ G(n) Q_A)∘² (the default). A leaf: it imports nothing.
 */

/** Richest first (the default first): the order of the CLI's and the page's choices. */
export const STRATEGY_NAMES = ['ekfac', 'kfac', 'diagonal', 'identity'] as const;

export type Strategy = (typeof STRATEGY_NAMES)[number];

/** Plainest first: the order of evaluation tables (each strategy adds to the one before). */
export const STRATEGIES_PLAINEST_FIRST: readonly Strategy[] = [...STRATEGY_NAMES].reverse();

export function isStrategy(value: unknown): value is Strategy {
  return (STRATEGY_NAMES as readonly unknown[]).includes(value);
}
