/**
 * Weight records shared by the model builders: parameter name (PyTorch style, e.g. 'h.0.mlp.c_fc.weight') →
 * dims and values. A record is all float32 or all float64; that choice sets the float type of the whole graph.
 */
import { DataType } from '../onnx/ir';

export type FloatArray = Float32Array | Float64Array;
export type FloatDtype = 'float32' | 'float64';

export interface WeightTensor {
  readonly dims: readonly number[];
  readonly data: FloatArray;
}

export type Weights = Readonly<Record<string, WeightTensor>>;

export function floatArray(dtype: FloatDtype, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
}

/** A tensor filled by `sample()` per element. */
export function sampledTensor(dtype: FloatDtype, dims: readonly number[], sample: () => number): WeightTensor {
  const data = floatArray(
    dtype,
    dims.reduce((a, b) => a * b, 1),
  );
  for (let i = 0; i < data.length; i++) data[i] = sample();
  return { dims: [...dims], data };
}

/** The float type of a weight record; refuses mixed or empty records. */
export function weightsDataType(weights: Weights): DataType {
  let type: DataType | null = null;
  for (const [name, tensor] of Object.entries(weights)) {
    const own = tensor.data instanceof Float64Array ? DataType.DOUBLE : DataType.FLOAT;
    if (type !== null && own !== type) throw new Error(`weight '${name}': mixes float32 and float64 in one model`);
    type = own;
  }
  if (type === null) throw new Error('the weight record is empty');
  return type;
}

/** The named weight, checked against the dims the architecture needs. */
export function requireWeight(weights: Weights, name: string, dims: readonly number[]): WeightTensor {
  const tensor = weights[name];
  if (!tensor) throw new Error(`weight '${name}' is missing (expected dims [${dims}])`);
  if (tensor.dims.length !== dims.length || tensor.dims.some((d, i) => d !== dims[i])) {
    throw new Error(`weight '${name}' has dims [${tensor.dims}], the architecture needs [${dims}]`);
  }
  return tensor;
}

/** [rows, cols] → [cols, rows]: PyTorch's nn.Linear stores [out, in]; a MatMul wants [in, out]. */
export function transposed(tensor: WeightTensor): WeightTensor {
  const [rows, cols] = tensor.dims as [number, number];
  const out = tensor.data instanceof Float64Array ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = tensor.data[r * cols + c]!;
  return { dims: [cols, rows], data: out };
}
