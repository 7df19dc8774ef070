/**
 * Test harness for the autodiff: run models on onnxruntime-web's wasm EP, and check a gradient graph's parameter
 * gradients against central finite differences of the same forward graph (its differentiable tensors turned into
 * graph inputs, so one session serves every perturbation).
 */
import { seededUniform } from '../../src/core/random';
import * as ort from 'onnxruntime-web';
import { buildGradientGraph } from '../../src/onnx/gradient-graph';
import { DataType, type Model, type TensorInit } from '../../src/onnx/ir';
import { serializeModel } from '../../src/onnx/protobuf';

ort.env.wasm.numThreads = 1;

export type FloatName = 'float32' | 'float64';
export type Feeds = Record<string, ort.Tensor>;

/** Deterministic uniform [0, 1) (mulberry32, the models' generator). */
export const uniform = seededUniform;

export function floatTensor(type: FloatName, dims: readonly number[], values: ArrayLike<number>): ort.Tensor {
  const data = type === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
  return new ort.Tensor(type, data, dims);
}

export async function run(model: Model, feeds: Feeds): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(serializeModel(model), { executionProviders: ['wasm'] });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export function values(tensor: ort.Tensor): number[] {
  return Array.from(tensor.data as Float32Array | Float64Array, Number);
}

/** The same model with some initializers turned into graph inputs (for finite differences without new sessions). */
export function liftInitializers(model: Model, names: readonly string[]): Model {
  const initializers = new Map(model.graph.initializers);
  const inputs = [...model.graph.inputs];
  for (const name of names) {
    const tensor = initializers.get(name);
    if (!tensor) throw new Error(`liftInitializers: no initializer "${name}"`);
    initializers.delete(name);
    inputs.push({ name, elemType: tensor.dataType, shape: tensor.dims });
  }
  return { ...model, graph: { ...model.graph, inputs, initializers } };
}

export interface GradientCheck {
  /** Largest |analytic − numeric| over all checked elements. */
  readonly maxError: number;
  /** Largest |analytic| (the scale errors are judged against). */
  readonly scale: number;
  readonly checked: number;
}

/**
 * Compare d(Σ (y − t)²)/dθ from the gradient graph (MSE loss, parameterGradients) with central differences, for
 * every element of the given initializers θ. `feeds` are the forward graph's own inputs. Targets are random.
 */
export async function checkParameterGradients(
  model: Model,
  parameters: readonly string[],
  feeds: Feeds,
  step: number,
  seed = 7,
): Promise<GradientCheck> {
  const output = model.graph.outputs[0];
  const type: FloatName = output.elemType === DataType.DOUBLE ? 'float64' : 'float32';
  const forward = await ort.InferenceSession.create(serializeModel(liftInitializers(model, parameters)), {
    executionProviders: ['wasm'],
  });
  const current = new Map<string, Float64Array>(
    parameters.map((name) => [name, Float64Array.from(model.graph.initializers.get(name)!.data as Float64Array)]),
  );
  const parameterFeeds = (): Feeds =>
    Object.fromEntries(
      parameters.map((name) => [name, floatTensor(type, model.graph.initializers.get(name)!.dims, current.get(name)!)]),
    );
  const first = (await forward.run({ ...feeds, ...parameterFeeds() }))[output.name];
  const random = uniform(seed);
  const targets = Array.from({ length: first.data.length }, () => random() * 2 - 1);
  const lossAt = async (): Promise<number> => {
    const y = values((await forward.run({ ...feeds, ...parameterFeeds() }))[output.name]);
    return y.reduce((sum, v, i) => sum + (v - targets[i]) ** 2, 0);
  };

  const gradient = buildGradientGraph(model, { loss: { kind: 'mse' }, tracked: [], parameterGradients: true });
  const results = await run(gradient.model, { ...feeds, targets: floatTensor(type, first.dims, targets) });
  let maxError = 0;
  let scale = 0;
  let checked = 0;
  for (const name of parameters) {
    const analytic = values(results[gradient.outputs.parameterGradients!.get(name)!]);
    const theta = current.get(name)!;
    for (let i = 0; i < theta.length; i++) {
      const saved = theta[i];
      theta[i] = saved + step;
      const plus = await lossAt();
      theta[i] = saved - step;
      const minus = await lossAt();
      theta[i] = saved;
      const numeric = (plus - minus) / (2 * step);
      maxError = Math.max(maxError, Math.abs(numeric - analytic[i]));
      scale = Math.max(scale, Math.abs(analytic[i]));
      checked++;
    }
  }
  await forward.release();
  return { maxError, scale, checked };
}

export function tensorInit(
  name: string,
  type: FloatName,
  dims: readonly number[],
  values: ArrayLike<number>,
): TensorInit {
  return {
    name,
    dataType: type === 'float64' ? DataType.DOUBLE : DataType.FLOAT,
    dims: [...dims],
    data: type === 'float64' ? Float64Array.from(values) : Float32Array.from(values),
  };
}
