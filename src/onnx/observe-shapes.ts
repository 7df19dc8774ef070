/**
 * The fallback of shape inference: where static inference (autodiff/shapes.ts) leaves a value's rank undecided, run
 * the forward graph once with those values exposed as extra outputs and record each one's element type and rank.
 * Only the rank is kept (dims become unknown): sizes differ from batch to batch, and the VJPs compute any size they
 * need at run time with Shape ops.
 */
import { inferFacts } from './autodiff/shapes';
import { DataType, defaultOpset, type Dim, type Model } from './ir';
import { ModelSession, type Feed } from './runtime';

export interface ObservedFacts {
  readonly type: DataType | null;
  readonly dims: readonly Dim[] | null;
}

const TYPES: Readonly<Record<string, DataType>> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  float16: DataType.FLOAT16,
  int64: DataType.INT64,
  int32: DataType.INT32,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};

/** Node outputs whose rank static inference leaves unknown (graph outputs excepted), in graph order. */
export function undecidedValues(model: Model): string[] {
  const facts = inferFacts(model.graph, defaultOpset(model));
  const outputs = new Set(model.graph.outputs.map((o) => o.name));
  return model.graph.nodes
    .flatMap((node) => node.outputs)
    .filter((name) => name && !outputs.has(name) && facts.facts(name).dims === null);
}

/**
 * Runs `model` once on `feeds` (onnxruntime's wasm EP) with every undecided value as an extra output; returns the
 * type and rank of each. An empty map when nothing is undecided (no run).
 */
export async function observeShapes(
  model: Model,
  feeds: Readonly<Record<string, Feed>>,
): Promise<Map<string, ObservedFacts>> {
  const names = undecidedValues(model);
  const observed = new Map<string, ObservedFacts>();
  if (names.length === 0) return observed;
  const facts = inferFacts(model.graph, defaultOpset(model));
  const extra = names.map((name) => ({ name, elemType: facts.facts(name).type ?? DataType.FLOAT, shape: null }));
  const exposed: Model = { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra] } };
  const session = await ModelSession.create(exposed);
  try {
    const results = await session.run(feeds);
    for (const name of names) {
      const tensor = results[name];
      if (!tensor) continue;
      observed.set(name, { type: TYPES[tensor.type] ?? null, dims: tensor.dims.map(() => null) });
    }
  } finally {
    await session.release();
  }
  return observed;
}
