/**
 * Quantized files dequantized on load (src/onnx/dequantize.ts). The fixtures of tests/fixtures/models/quantized were
 * written by scripts/export-quantized-models.py, each with a float32 reference whose weights numpy dequantized; here
 * the rewritten graph's weights must equal that reference's, and a decoder written in this test (reading the packed
 * bytes one code at a time) must agree with both. Refusals name the op and the node.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readModel } from '../../src/app/inputs';
import { modelLayers } from '../../src/app/model-layers';
import { dequantizeLinearValues, dequantizeModel } from '../../src/onnx/dequantize';
import { DataType, type Model, type Node, type TensorInit } from '../../src/onnx/ir';
import { toFloat32 } from '../../src/onnx/precision';
import { parseModel, serializeModel } from '../../src/onnx/protobuf';

const DIR = 'tests/fixtures/models/quantized';
const read = (name: string): Model => readModel(name, readFileSync(`${DIR}/${name}`));
const raw = (name: string): Model => parseModel(readFileSync(`${DIR}/${name}`));

/** Each linear layer's weight as [K, N] float32, by node name. */
function weights(model: Model): Map<string, Float32Array> {
  const layers = modelLayers(model, null).layers;
  return new Map(layers.map((l) => [l.nodeName, model.graph.initializers.get(l.weightName)!.data as Float32Array]));
}

describe('the dequantized graph holds the weights numpy dequantized', () => {
  it.each(['llama-q4', 'llama-int8', 'llama-qdq'])('%s: float32 MatMuls, bit-identical weights', (name) => {
    const model = read(`${name}.onnx`);
    const ops = new Set(model.graph.nodes.map((n) => n.opType));
    for (const op of ['MatMulNBits', 'MatMulInteger', 'DynamicQuantizeLinear', 'DequantizeLinear'])
      expect(ops.has(op), op).toBe(false);
    const reference = read(`${name}-dequantized.onnx`);
    const got = weights(model);
    const want = weights(reference);
    expect([...got.keys()]).toEqual([...want.keys()]);
    expect(got.size).toBe(15);
    for (const [node, w] of want) expect(got.get(node), node).toEqual(w);
    // Same forward graph: the same ops in the same order, and the same embedding table.
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(reference.graph.nodes.map((n) => n.opType));
    const table = (m: Model) => {
      const gather = m.graph.nodes.find((n) => n.opType === 'Gather' && n.inputs[1] === 'input_ids')!;
      return m.graph.initializers.get(gather.inputs[0]!)!.data;
    };
    expect(table(model)).toEqual(table(reference));
    expect(modelLayers(model, null).dequantized).toMatch(/×/);
  });

  it('says what was dequantized', () => {
    expect(modelLayers(read('llama-q4.onnx'), null).dequantized).toBe('MatMulNBits 4-bit × 15');
    expect(modelLayers(read('llama-int8.onnx'), null).dequantized).toBe(
      'Gather + DequantizeLinear 8-bit × 1, MatMulInteger 8-bit × 15',
    );
    expect(modelLayers(read('llama-qdq.onnx'), null).dequantized).toBe('DequantizeLinear × 15');
    expect(modelLayers(read('llama-q4-dequantized.onnx'), null).dequantized).toBeNull();
  });
});

/** A test-local MatMulNBits decoder: code i of a block is nibble i % 2 (low first) of byte i / 2. */
function decodeQ4(model: Model, weight: string, K: number, N: number, block: number): Float32Array {
  const init = (suffix: string) => model.graph.initializers.get(`${weight}${suffix}`);
  const B = init('_Q4')!.data as Uint8Array;
  const scales = init('_scales')!.data as Float32Array;
  const zeros = init('_zero_points');
  const blocks = Math.ceil(K / block);
  const nibble = (bytes: Uint8Array, at: number, i: number) => (i % 2 === 0 ? bytes[at]! & 0x0f : bytes[at]! >> 4);
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const b = Math.floor(k / block);
      const i = k % block;
      const q = nibble(B, (n * blocks + b) * (block / 2) + Math.floor(i / 2), i);
      let zero = 8;
      if (zeros?.dataType === DataType.UINT8)
        zero = nibble(zeros.data as Uint8Array, n * Math.ceil(blocks / 2) + Math.floor(b / 2), b);
      else if (zeros) zero = (zeros.data as Float32Array)[n * blocks + b]!;
      out[k * N + n] = Math.fround((q - zero) * scales[n * blocks + b]!);
    }
  }
  return out;
}

describe('an independent decoder in this test agrees', () => {
  const q4 = raw('llama-q4.onnx');
  const got = weights(read('llama-q4.onnx'));
  it.each([
    // block 16, asymmetric, packed uint8 zero points (4 blocks along K = 64)
    ['/layers.0/mlp/down_proj/MatMul', 'onnx::MatMul_263', 64, 16, 16],
    // block 32 over K = 16: the last block is padded; no zero points (the default 8)
    ['/layers.1/mlp/up_proj/MatMul', 'onnx::MatMul_276', 16, 64, 32],
    // float zero points [N, k_blocks]
    ['/lm_head/MatMul', 'onnx::MatMul_278', 16, 512, 16],
  ] as const)('MatMulNBits %s', (node, weight, K, N, block) => {
    const want = decodeQ4(q4, weight, K, N, block);
    expect(got.get(node)).toEqual(want);
    // A value worked by hand: the first code of the first block of column 0.
    const B = q4.graph.initializers.get(`${weight}_Q4`)!.data as Uint8Array;
    const scale = (q4.graph.initializers.get(`${weight}_scales`)!.data as Float32Array)[0]!;
    const zeros = q4.graph.initializers.get(`${weight}_zero_points`);
    const first = zeros ? (zeros.data[0] as number) : 8;
    const zero = zeros?.dataType === DataType.UINT8 ? first & 15 : first;
    expect(got.get(node)![0]).toBe(Math.fround(((B[0]! & 15) - zero) * scale));
  });

  it('MatMulInteger per column (int8) and per tensor (uint8)', () => {
    const int8 = raw('llama-int8.onnx');
    const deq = weights(read('llama-int8.onnx'));
    const init = (name: string) => int8.graph.initializers.get(name)!;
    for (const [node, weight, perColumn] of [
      ['/layers.0/mlp/gate_proj/MatMul', 'onnx::MatMul_261', true],
      ['/layers.1/mlp/gate_proj/MatMul', 'onnx::MatMul_275', false],
    ] as const) {
      const q = init(`${weight}_quantized`);
      const scale = init(`${weight}_scale`).data as Float32Array;
      const zero = init(`${weight}_zero_point`).data as Int8Array | Uint8Array;
      expect(q.dataType).toBe(perColumn ? DataType.INT8 : DataType.UINT8);
      const [K, N] = q.dims as [number, number];
      const want = Float32Array.from({ length: K * N }, (_, i) => {
        const n = perColumn ? i % N : 0;
        return (Number(q.data[i]) - zero[n]!) * scale[n]!;
      });
      expect(deq.get(node)).toEqual(want);
    }
  });
});

const node = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}): Node => ({
  name: `/${opType}_0`,
  opType,
  domain: opType === 'MatMulNBits' ? 'com.microsoft' : '',
  inputs,
  outputs,
  attributes,
});
const tensor = (name: string, dataType: DataType, dims: number[], data: TensorInit['data']): TensorInit => ({
  name,
  dataType,
  dims,
  data,
});
function tiny(nodes: Node[], initializers: TensorInit[]): Model {
  const value = (name: string) => ({ name, elemType: DataType.FLOAT, shape: [1, 16] });
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 21 }],
    producerName: 'test',
    metadata: {},
    graph: {
      name: 'g',
      nodes,
      inputs: [value('x')],
      outputs: [value('y')],
      initializers: new Map(initializers.map((t) => [t.name, t])),
      valueInfo: [],
    },
  };
}

describe('other layouts', () => {
  it('MatMulNBits with 2-bit codes and a bias: MatMul + Add on the dequantized weight', () => {
    // K = 16, N = 2, block 16: one block per column, 4 bytes of 2-bit codes (low bits first).
    // Column 0: codes 0, 1, 2, 3, then 0s; column 1: all 3s.
    const B = Uint8Array.from([0b11100100, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    const model = tiny(
      [
        node('MatMulNBits', ['x', 'B', 's', '', '', 'bias'], ['y'], {
          K: { type: 'int', value: 16 },
          N: { type: 'int', value: 2 },
          bits: { type: 'int', value: 2 },
          block_size: { type: 'int', value: 16 },
        }),
      ],
      [
        tensor('B', DataType.UINT8, [2, 1, 4], B),
        tensor('s', DataType.FLOAT, [2], Float32Array.from([0.5, 2])),
        tensor('bias', DataType.FLOAT, [2], Float32Array.from([1, -1])),
      ],
    );
    const out = dequantizeModel(model);
    expect(out.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs])).toEqual([
      ['MatMul', ['x', 'B_dequantized'], ['y_unbiased']],
      ['Add', ['y_unbiased', 'bias_float'], ['y']],
    ]);
    const w = out.graph.initializers.get('B_dequantized')!;
    expect(w.dims).toEqual([16, 2]);
    // Default zero point 2^(2−1) = 2: column 0 is (0−2, 1−2, 2−2, 3−2, then 0−2 …) · 0.5; column 1 is (3−2) · 2.
    const column = (n: number) => Array.from({ length: 16 }, (_, k) => w.data[k * 2 + n]);
    expect(column(0)).toEqual([-1, -0.5, 0, 0.5, ...Array(12).fill(-1)]);
    expect(column(1)).toEqual(Array(16).fill(2));
    expect([...out.graph.initializers.keys()].sort()).toEqual(['B_dequantized', 'bias_float']);
  });

  it('q4f16: float16 scales are cast to float32 first, then the codes dequantized', () => {
    // 4-bit, K = 16, N = 1, block 16: codes 0..15 (low nibble first), scale 0.5 stored as float16 bits 0x3800.
    const B = Uint8Array.from({ length: 8 }, (_, i) => (2 * i) | ((2 * i + 1) << 4));
    const attributes = {
      K: { type: 'int', value: 16 },
      N: { type: 'int', value: 1 },
      block_size: { type: 'int', value: 16 },
    } as const;
    const half = tiny(
      [node('MatMulNBits', ['x', 'B', 's'], ['y'], attributes)],
      [tensor('B', DataType.UINT8, [1, 1, 8], B), tensor('s', DataType.FLOAT16, [1], Uint16Array.from([0x3800]))],
    );
    const out = dequantizeModel(toFloat32(half));
    expect([...out.graph.initializers.get('B_dequantized')!.data]).toEqual(
      Array.from({ length: 16 }, (_, k) => (k - 8) * 0.5),
    );
  });

  it('DequantizeLinear per block (opset 21) and per axis, by hand', () => {
    const x = tensor('x', DataType.INT8, [4, 2], Int8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    // Blocks of 2 rows along axis 0: scale [2, 2].
    const blocked = dequantizeLinearValues(
      x,
      tensor('s', DataType.FLOAT, [2, 2], Float32Array.from([1, 10, 100, 1000])),
      tensor('z', DataType.INT8, [2, 2], Int8Array.from([1, 0, 0, 1])),
      0,
      2,
    );
    expect([...blocked]).toEqual([0, 20, 2, 40, 500, 5000, 700, 7000]);
    const perAxis = dequantizeLinearValues(
      x,
      tensor('s', DataType.FLOAT, [2], Float32Array.from([1, -1])),
      null,
      -1,
      0,
    );
    expect([...perAxis]).toEqual([1, -2, 3, -4, 5, -6, 7, -8]);
  });
});

describe('refusals name the op and the node', () => {
  const q4 = raw('llama-q4.onnx');
  const edit = (model: Model, name: string, change: (n: Node) => Node): Model => ({
    ...model,
    graph: { ...model.graph, nodes: model.graph.nodes.map((n) => (n.name === name ? change(n) : n)) },
  });
  const gate = '/layers.0/mlp/gate_proj/MatMul_Q4';

  it.each([
    ['g_idx', (n: Node) => ({ ...n, inputs: [...n.inputs.slice(0, 3), '', 'g'] }), /g_idx \(act-order\)/],
    ['3 bits', (n: Node) => ({ ...n, attributes: { ...n.attributes, bits: { type: 'int', value: 3 } } }), /bits = 3/],
    [
      'a weight that is computed',
      (n: Node) => ({ ...n, inputs: ['x', 'x', ...n.inputs.slice(2)] }),
      /weight B 'x' is not a constant/,
    ],
    [
      'a wrong K',
      (n: Node) => ({ ...n, attributes: { ...n.attributes, K: { type: 'int', value: 32 } } }),
      /has shape \[64, 1, 8\], not \[64, 2, 8\]/,
    ],
  ] as const)('MatMulNBits: %s', (_, change, problem) => {
    const attempt = () => dequantizeModel(edit(q4, gate, change as (n: Node) => Node));
    expect(attempt).toThrow(new RegExp(`^cannot dequantize MatMulNBits at node "${gate.replace(/\//g, '\\/')}": `));
    expect(attempt).toThrow(problem);
  });

  it('an op it does not handle, and a MatMulInteger without its DynamicQuantizeLinear', () => {
    const qlinear = edit(q4, gate, (n) => ({ ...n, opType: 'QLinearMatMul', domain: '' }));
    expect(() => dequantizeModel(qlinear)).toThrow(
      `cannot dequantize QLinearMatMul at node "${gate}": this quantized op is not handled`,
    );
    const int8 = raw('llama-int8.onnx');
    const first = int8.graph.nodes.find((n) => n.opType === 'MatMulInteger')!;
    const bare = edit(int8, first.name, (n) => ({ ...n, inputs: ['input_ids', ...n.inputs.slice(1)] }));
    expect(() => dequantizeModel(bare)).toThrow(
      `cannot dequantize MatMulInteger at node "${first.name}": its input A is not the output of a DynamicQuantizeLinear`,
    );
  });

  it('through readModel, with the file name in front', () => {
    const bytes = serializeModel(edit(q4, gate, (n) => ({ ...n, opType: 'MatMulBnb4' })));
    expect(() => readModel('model_q4.onnx', bytes)).toThrow(
      /^model_q4\.onnx: cannot dequantize MatMulBnb4 at node "\/layers\.0\/mlp\/gate_proj\/MatMul_Q4"/,
    );
  });
});
