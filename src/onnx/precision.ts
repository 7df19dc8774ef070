/**
 * float16 / bfloat16 models are cast to float32 on load: every FLOAT16/BFLOAT16 initializer and Constant becomes
 * FLOAT (exact: both formats are subsets of float32), Casts to them become Casts to FLOAT, and the graph's
 * inputs, outputs and value_info follow. The gradient graph, a and g, and therefore every factor and score are then
 * float32 and float64 like a float32 model's — the run equals the float32 model with the same (rounded) weights.
 * Casting in the graph instead would keep the activations in half precision, whose 11-bit (fp16) or 8-bit (bf16)
 * mantissas are too coarse for covariances summed over thousands of tokens; onnxruntime-web's wasm EP also lacks
 * most half-precision kernels.
 */
import { DataType, type Attribute, type Graph, type Model, type Node, type TensorInit, type ValueInfo } from './ir';
import { bfloat16ToFloat, halfToFloat } from '../core/half-float';

const HALF = new Set<DataType>([DataType.FLOAT16, DataType.BFLOAT16]);

function upcast(tensor: TensorInit): TensorInit {
  if (!HALF.has(tensor.dataType)) return tensor;
  const bits = tensor.data as Uint16Array;
  const data = new Float32Array(bits.length);
  const decode = tensor.dataType === DataType.BFLOAT16 ? bfloat16ToFloat : halfToFloat;
  for (let i = 0; i < bits.length; i++) data[i] = decode(bits[i]!);
  return { ...tensor, dataType: DataType.FLOAT, data };
}

function retype(info: ValueInfo): ValueInfo {
  return HALF.has(info.elemType) ? { ...info, elemType: DataType.FLOAT } : info;
}

function retypeAttribute(node: Node, key: string, attribute: Attribute): Attribute {
  if (attribute.type === 'tensor') return { type: 'tensor', value: upcast(attribute.value) };
  if (attribute.type === 'graph') return { type: 'graph', value: graphToFloat32(attribute.value) };
  if (node.opType === 'Cast' && key === 'to' && attribute.type === 'int' && HALF.has(attribute.value))
    return { type: 'int', value: DataType.FLOAT };
  return attribute;
}

function graphToFloat32(graph: Graph): Graph {
  return {
    ...graph,
    nodes: graph.nodes.map((node) => ({
      ...node,
      attributes: Object.fromEntries(
        Object.entries(node.attributes).map(([key, value]) => [key, retypeAttribute(node, key, value)]),
      ),
    })),
    inputs: graph.inputs.map(retype),
    outputs: graph.outputs.map(retype),
    valueInfo: graph.valueInfo.map(retype),
    initializers: new Map([...graph.initializers].map(([name, tensor]) => [name, upcast(tensor)])),
  };
}

/** Whether a model holds any float16/bfloat16 tensor, value or Cast. */
export function hasHalfPrecision(model: Model): boolean {
  const graph = model.graph;
  return (
    [...graph.initializers.values()].some((t) => HALF.has(t.dataType)) ||
    [...graph.inputs, ...graph.outputs].some((v) => HALF.has(v.elemType)) ||
    graph.nodes.some((n) =>
      Object.values(n.attributes).some(
        (a) =>
          (a.type === 'tensor' && HALF.has(a.value.dataType)) ||
          (n.opType === 'Cast' && a.type === 'int' && HALF.has(a.value)),
      ),
    )
  );
}

/** Metadata key recording the cast, so that listings can say what was loaded ('float16', 'bfloat16' or both). */
export const CAST_FROM_KEY = 'iwb.cast_to_float32_from';

/** The model with every float16/bfloat16 tensor and type made float32 (the same model when it has none). */
export function toFloat32(model: Model): Model {
  if (!hasHalfPrecision(model)) return model;
  const weights = [...model.graph.initializers.values()].map((t) => t.dataType);
  const from = [DataType.FLOAT16, DataType.BFLOAT16].filter((t) => weights.includes(t));
  const label = from.map((t) => (t === DataType.FLOAT16 ? 'float16' : 'bfloat16')).join(', ') || 'float16';
  return { ...model, metadata: { ...model.metadata, [CAST_FROM_KEY]: label }, graph: graphToFloat32(model.graph) };
}
