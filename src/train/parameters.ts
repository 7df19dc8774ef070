/**
 * Training feeds the parameters every step, so in the training graph they are graph inputs rather than initializers
 * (an onnxruntime session bakes initializers in at creation). The session is then created once for the whole run.
 */
import type { Model, ValueInfo } from '../onnx/ir';

/** The model with the named initializers turned into graph inputs of the same type and shape. */
export function parametersAsInputs(model: Model, names: Iterable<string>): Model {
  const initializers = new Map(model.graph.initializers);
  const promoted: ValueInfo[] = [];
  for (const name of names) {
    const init = initializers.get(name);
    if (!init) throw new Error(`parametersAsInputs: the graph has no initializer "${name}"`);
    initializers.delete(name);
    promoted.push({ name, elemType: init.dataType, shape: [...init.dims] });
  }
  return { ...model, graph: { ...model.graph, initializers, inputs: [...model.graph.inputs, ...promoted] } };
}
