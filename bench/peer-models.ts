/**
 * The peer's side of the kernel benchmark: tiny ONNX models computing the same products as our kernels, for
 * onnxruntime-web's WebGPU EP. Covariance: XᵀX as Transpose + MatMul. Rotation: (Q_Sᵀ G) Q_A as Transpose + two
 * MatMuls, batched over G's leading axis.
 */
import { DataType, type Model, type Node } from '../src/onnx/ir';
import { serializeModel } from '../src/onnx/protobuf';

const OPSET = 17;

function node(name: string, opType: string, inputs: string[], outputs: string[], perm?: number[]): Node {
  return { name, opType, domain: '', inputs, outputs, attributes: perm ? { perm: { type: 'ints', value: perm } } : {} };
}

function model(nodes: Node[], inputs: [string, number[]][], output: [string, number[]]): Uint8Array {
  const float = (name: string, shape: number[]) => ({ name, elemType: DataType.FLOAT, shape });
  const built: Model = {
    irVersion: 8,
    opsetImports: [{ domain: '', version: OPSET }],
    producerName: 'influence-workbench-bench',
    metadata: {},
    graph: {
      name: 'bench',
      nodes,
      inputs: inputs.map(([name, shape]) => float(name, shape)),
      outputs: [float(...output)],
      initializers: new Map(),
      valueInfo: [],
    },
  };
  return serializeModel(built);
}

/** Y[d, d] = Xᵀ X for X [rows, d]. */
export function gramModel(rows: number, d: number): Uint8Array {
  return model(
    [node('transpose', 'Transpose', ['X'], ['XT'], [1, 0]), node('matmul', 'MatMul', ['XT', 'X'], ['Y'])],
    [['X', [rows, d]]],
    ['Y', [d, d]],
  );
}

/** R[N, dOut, dIn] = Q_Sᵀ G[n] Q_A. */
export function rotationModel(count: number, dOut: number, dIn: number): Uint8Array {
  return model(
    [
      node('transpose', 'Transpose', ['QS'], ['QST'], [1, 0]),
      node('left', 'MatMul', ['QST', 'G'], ['L']),
      node('right', 'MatMul', ['L', 'QA'], ['R']),
    ],
    [
      ['QS', [dOut, dOut]],
      ['G', [count, dOut, dIn]],
      ['QA', [dIn, dIn]],
    ],
    ['R', [count, dOut, dIn]],
  );
}
