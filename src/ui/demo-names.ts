import type { DemoVariant } from '../worker/protocol';

/**
 * The built-in demos by one name each, wherever the page offers them (the Attribute controls, the evaluation panel,
 * its list of unfinished evaluations).
 */
export const DEMO_NAMES: Readonly<Record<DemoVariant, string>> = {
  demo: 'GSM8K + MBPP',
  after: 'GSM8K + MBPP, half the answers followed by a re-check / test trace (after-answer segments)',
  micro: 'micro: untrained smoke test (tiny model, seconds)',
};

/** The order the demo choices are listed in. */
export const DEMO_ORDER: readonly DemoVariant[] = ['demo', 'after', 'micro'];
