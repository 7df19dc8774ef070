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

/** The k points deepest inside their own class (largest margin along the class axis), in index order. */
function deepest(points: readonly Example[], k: number): number[] {
  const margin = (p: Example) => (p.y === 1 ? 1 : -1) * (p.x[0] + 0.6 * p.x[1]);
  return points
    .map((p, i) => [margin(p), i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i)
    .sort((a, b) => a - b);
}

const logisticPoints = () => MODELS.logistic.generate(defaultState('logistic').seed).train;
const flipped = () => deepest(logisticPoints(), 4);

export const PRESETS: readonly Preset[] = [
  {
    id: 'nonconvex',
    title: 'Non-convex MLP',
    lesson:
      'Leave-one-out retrains the MLP from its random start: some runs land in another local minimum, which no ' +
      'influence estimate (all of them look at one minimum) can predict. For this query the exact method’s Pearson ' +
      'against leave-one-out is 0.00; set Leave-one-out back to "retrain from θ*" and it is 0.86.',
    state: () => {
      const base = defaultState('mlp');
      // 30 points: 30 full retrainings from scratch stay within a second.
      const points = MODELS.mlp.generate(base.seed).train.slice(0, 30);
      return { ...base, points, loo: 'scratch', method: 'exact', query: 4 };
    },
  },
  {
    id: 'outlier',
    title: 'Outlier',
    lesson:
      'One class-1 square (bottom left) far out on the class-0 side. Coloured by self-influence, it dwarfs every ' +
      'other point: the model bends most to fit it, and leaving it out moves the boundary most.',
    state: () => {
      const base = defaultState('logistic');
      const points = [...MODELS.logistic.generate(base.seed).train, { x: [-2.2, -1.9], y: 1 }];
      return { ...base, points, colour: 'self' };
    },
  },
  {
    id: 'mislabelled',
    title: 'Mislabelled points',
    get lesson() {
      return (
        `The labels of points ${flipped().join(', ')} were flipped. Rank the training points by self-influence (the ` +
        'list below the plot): the flipped ones come first, which is how influence functions are used to find ' +
        'label noise.'
      );
    },
    state: () => {
      const flip = new Set(flipped());
      const points = logisticPoints().map((p, i) => (flip.has(i) ? { x: p.x, y: 1 - p.y } : p));
      return { ...defaultState('logistic'), points, colour: 'self' };
    },
  },
  {
    id: 'low-damping',
    title: 'Too little damping',
    lesson:
      'δ = 1e-6, far below the curvature the training objective really has (its L2 term alone is 0.003). The dense ' +
      'Gauss–Newton inverse now divides by near-zero eigenvalues, directions the data barely constrain, and for this ' +
      'query its agreement with leave-one-out collapses (Pearson ≈ −0.7; 0.8 at δ = 0.003). Slide δ back up.',
    state: () => ({ ...defaultState('mlp'), damping: 1e-6, method: 'exact', query: 4 }),
  },
];
