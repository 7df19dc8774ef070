/**
 * The failure cases a teacher loads with one click. Each is a full lab state (points included), so its link is
 * self-contained, and a sentence saying what to look at.
 */
import { defaultState, type LabState } from './state';
import { MODELS } from './models';
import type { Example } from './network';

export interface Preset {
  readonly id: string;
  readonly title: string;
  readonly lesson: string;
  state(): LabState;
}

/** Flips the labels of the k points deepest inside their own class (largest margin along the class axis). */
function flipDeepest(points: readonly Example[], k: number): Example[] {
  const margin = (p: Example) => (p.y === 1 ? 1 : -1) * (p.x[0] + 0.6 * p.x[1]);
  const deepest = new Set(
    points
      .map((p, i) => [margin(p), i] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, k)
      .map(([, i]) => i),
  );
  return points.map((p, i) => (deepest.has(i) ? { x: p.x, y: 1 - p.y } : p));
}

export const PRESETS: readonly Preset[] = [
  {
    id: 'nonconvex',
    title: 'Non-convex MLP',
    lesson:
      'Leave-one-out retrains the MLP from its random start: some runs land in another local minimum, which no ' +
      'influence estimate (all of them look at one minimum) can predict. Compare the exact column with LOO.',
    state: () => {
      const base = defaultState('mlp');
      return { ...base, points: MODELS.mlp.generate(base.seed).train.slice(0, 24), loo: 'scratch', method: 'exact' };
    },
  },
  {
    id: 'outlier',
    title: 'Outlier',
    lesson:
      'One blue point far inside the orange class. Coloured by self-influence, it dwarfs every other point: the ' +
      'model bends most to fit it, and removing it changes the boundary most.',
    state: () => {
      const base = defaultState('logistic');
      const points = [...MODELS.logistic.generate(base.seed).train, { x: [-2.2, -1.9], y: 1 }];
      return { ...base, points, colour: 'self' };
    },
  },
  {
    id: 'mislabelled',
    title: 'Mislabelled points',
    lesson:
      'Four labels were flipped. Rank the training points by self-influence (the list below the plot): the flipped ' +
      'ones come first, which is how influence functions are used to find label noise.',
    state: () => {
      const base = defaultState('logistic');
      return { ...base, points: flipDeepest(MODELS.logistic.generate(base.seed).train, 4), colour: 'self' };
    },
  },
  {
    id: 'low-damping',
    title: 'Too little damping',
    lesson:
      'δ far below the curvature the model really has: EK-FAC divides by tiny eigenvalues, its scores blow up in ' +
      'directions the data barely constrain, and its agreement with leave-one-out drops. Slide δ back up.',
    state: () => ({ ...defaultState('mlp'), damping: 1e-6, method: 'ekfac' }),
  },
];
