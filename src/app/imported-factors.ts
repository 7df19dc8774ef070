/**
 * Factors fitted elsewhere (kronfluence on a cluster, `iwb --kronfluence-out`, an earlier run) matched to the layers a
 * run tracks, for the CLI's `--factors DIR` and the page's factors folder alike. A factor module matches a layer when
 * it is the layer's module name (torch.onnx keeps the module path in node names: '/h.0/mlp/c_fc/MatMul' is
 * kronfluence's 'h.0.mlp.c_fc') or its node name. Shapes are checked here, before anything is computed:
 * kronfluence's activation factor A is [dIn + 1, dIn + 1] for a layer with a bias (the appended ones column) and
 * [dIn, dIn] without; the gradient factor S is [dOut, dOut]; Λ is [dOut, dIn'] — a mismatch names the module.
 */
import type { TrackedLayer } from '../onnx/gradient-spec';
import type { HostMatrix, ModelFactors } from '../core/schema';
import { InputError } from './input-error';

/** kronfluence's module name for a tracked layer's node name ('/h.0/mlp/c_fc/MatMul' → 'h.0.mlp.c_fc'). */
export function moduleNameOfLayer(nodeName: string): string {
  const path = nodeName.replace(/^\//, '').replace(/\/(MatMul|Gemm)(_\d+)?$/, '');
  return path.split('/').join('.');
}

type LayerShape = Pick<TrackedLayer, 'nodeName' | 'dIn' | 'dOut' | 'hasBias'>;

function checkShape(
  matrix: HostMatrix | undefined,
  expected: readonly number[],
  what: string,
  module: string,
  layer: LayerShape,
  source: string,
): void {
  if (!matrix || matrix.shape.join() === expected.join()) return;
  throw new InputError(
    `${source}: module "${module}": ${what} has shape [${matrix.shape.join(', ')}], but layer "${layer.nodeName}" ` +
      `(dIn ${layer.dIn}${layer.hasBias ? ' + bias' : ''}, dOut ${layer.dOut}) needs [${expected.join(', ')}]`,
  );
}

/**
 * The imported factors renamed to the run's layers and checked against their shapes. `source` names where they came
 * from in errors ('--factors DIR', 'factors folder NAME'); every tracked layer needs a module, else the error lists
 * what the files have.
 */
export function matchFactorsToLayers(
  factors: ModelFactors,
  layers: readonly LayerShape[],
  source: string,
): ModelFactors {
  const byName = new Map(factors.layers.map((l) => [l.name, l] as const));
  const matched = layers.map((layer) => {
    const module = moduleNameOfLayer(layer.nodeName);
    const found = byName.get(module) ?? byName.get(layer.nodeName);
    if (!found) {
      throw new InputError(
        `${source}: no factors for layer "${layer.nodeName}" (module "${module}"); the files have ${[...byName.keys()].join(', ')}`,
      );
    }
    const dIn = layer.dIn + (layer.hasBias ? 1 : 0);
    const check = (matrix: HostMatrix | undefined, expected: number[], what: string) =>
      checkShape(matrix, expected, what, found.name, layer, source);
    check(found.activationCovarianceSum, [dIn, dIn], 'activation_covariance');
    check(found.activationEigenvectors, [dIn, dIn], 'activation_eigenvectors');
    check(found.activationEigenvalues, [dIn], 'activation_eigenvalues');
    check(found.gradientCovarianceSum, [layer.dOut, layer.dOut], 'gradient_covariance');
    check(found.gradientEigenvectors, [layer.dOut, layer.dOut], 'gradient_eigenvectors');
    check(found.gradientEigenvalues, [layer.dOut], 'gradient_eigenvalues');
    check(found.lambdaSum, [layer.dOut, dIn], 'lambda_matrix');
    return { ...found, name: layer.nodeName };
  });
  return { ...factors, layers: matched };
}
