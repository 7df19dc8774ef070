/**
 * The lab's three models with their data generators: each is a network spec, its L2 strength and a seeded data set
 * (training points the student edits, fixed test points that can be made the query).
 */
import { seededNormal, seededUniform } from '../core/random';
import type { Example, NetworkSpec } from './network';

export type TeachModel = 'linear' | 'logistic' | 'mlp';
export const TEACH_MODELS: readonly TeachModel[] = ['linear', 'logistic', 'mlp'];

export interface ModelDefinition {
  readonly name: TeachModel;
  readonly title: string;
  readonly spec: NetworkSpec;
  /** L2 strength per example: J = Σ L_n + (N·l2/2)‖θ‖²; also the default damping δ (then exact = true Hessian). */
  readonly l2: number;
  /** Plot window [xmin, xmax, ymin, ymax]. */
  readonly window: readonly [number, number, number, number];
  generate(seed: number): { train: Example[]; test: Example[] };
}

const round = (v: number) => Math.round(v * 1000) / 1000;
const point = (x: number[], y: number): Example => ({ x: x.map(round), y });

function linearData(seed: number) {
  const uniform = seededUniform(seed);
  const normal = seededNormal(uniform);
  const truth = (x: number) => 0.6 * x + 0.3;
  const train = Array.from({ length: 16 }, () => {
    const x = -1.8 + 3.6 * uniform();
    return point([x], round(truth(x) + 0.35 * normal()));
  });
  // Targets off the line: a query the model already fits perfectly has Δf of second order only.
  const test = [-1.5, -0.5, 0.5, 1.5].map((x, i) => point([x], round(truth(x) + (i % 2 ? 0.5 : -0.5))));
  return { train, test };
}

function blobs(seed: number) {
  const uniform = seededUniform(seed);
  const normal = seededNormal(uniform);
  const draw = (c: number) => point([(c ? 0.5 : -0.5) + 0.8 * normal(), (c ? 0.3 : -0.3) + 0.8 * normal()], c);
  const train = Array.from({ length: 40 }, (_, i) => draw(i % 2));
  const test = Array.from({ length: 6 }, (_, i) => draw(i % 2));
  return { train, test };
}

function moons(seed: number) {
  const uniform = seededUniform(seed);
  const normal = seededNormal(uniform);
  const draw = (c: number) => {
    const t = Math.PI * uniform();
    const [x, y] = c === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    return point([1.3 * (x - 0.5) + 0.12 * normal(), 1.3 * (y - 0.25) + 0.12 * normal()], c);
  };
  const train = Array.from({ length: 60 }, (_, i) => draw(i % 2));
  // Test points near the moons' boundary: a query the model fits with certainty barely moves when one point goes.
  const test = [
    point([-0.9, 0.35], 0),
    point([0.45, 0.05], 1),
    point([1.3, 0.2], 1),
    point([-1.6, -0.2], 0),
    point([0, 0.9], 0),
    point([0.9, -0.6], 1),
  ];
  return { train, test };
}

export const MODELS: Readonly<Record<TeachModel, ModelDefinition>> = {
  linear: {
    name: 'linear',
    title: '1-D linear regression',
    spec: { widths: [1, 1], loss: 'mse' },
    l2: 0.01,
    window: [-2, 2, -2, 2],
    generate: linearData,
  },
  logistic: {
    name: 'logistic',
    title: '2-D logistic regression',
    spec: { widths: [2, 2], loss: 'cross-entropy' },
    l2: 0.01,
    window: [-3, 3, -3, 3],
    generate: blobs,
  },
  mlp: {
    name: 'mlp',
    title: 'MLP on two moons (2-6-6-2, tanh)',
    spec: { widths: [2, 6, 6, 2], loss: 'cross-entropy' },
    l2: 0.003,
    window: [-2, 2, -2, 2],
    generate: moons,
  },
};
