import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { DataType, type Graph, type Model, type TensorInit } from '../../src/onnx/ir';
import { parseModel, serializeModel } from '../../src/onnx/protobuf';

const { onnx } = onnxProto;
ort.env.wasm.numThreads = 1;

function tensor(name: string, dataType: DataType, dims: number[], data: TensorInit['data']): TensorInit {
  return { name, dataType, dims, data };
}

/** One initializer of every DataType the IR knows (STRING aside), with values that stress each encoding. */
const everyDtype: TensorInit[] = [
  tensor('f32', DataType.FLOAT, [2, 2], new Float32Array([1.5, -2, 3.25, Math.fround(0.1)])),
  tensor('f64', DataType.DOUBLE, [3], new Float64Array([0.1, -1e300, Math.PI])),
  tensor('i8', DataType.INT8, [2], new Int8Array([-128, 127])),
  tensor('u8', DataType.UINT8, [2], new Uint8Array([0, 255])),
  tensor('i16', DataType.INT16, [2], new Int16Array([-32768, 7])),
  tensor('u16', DataType.UINT16, [1], new Uint16Array([65535])),
  tensor('i32', DataType.INT32, [2], new Int32Array([-(2 ** 31), 2 ** 31 - 1])),
  tensor('i64', DataType.INT64, [3], new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 42n])),
  tensor('bool', DataType.BOOL, [3], new Uint8Array([1, 0, 1])),
  tensor('f16', DataType.FLOAT16, [1], new Uint16Array([0x3c00])),
  tensor('u32', DataType.UINT32, [1], new Uint32Array([2 ** 32 - 1])),
  tensor('u64', DataType.UINT64, [1], new BigUint64Array([2n ** 64n - 1n])),
  tensor('bf16', DataType.BFLOAT16, [1], new Uint16Array([0x3f80])),
  tensor('scalar', DataType.FLOAT, [], new Float32Array([7])),
  tensor('empty', DataType.INT64, [0], new BigInt64Array(0)),
];

const thenBranch: Graph = {
  name: 'then',
  nodes: [{ name: 'then_id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['then_out'], attributes: {} }],
  inputs: [],
  outputs: [{ name: 'then_out', elemType: DataType.FLOAT, shape: ['batch', 4] }],
  initializers: new Map(),
  valueInfo: [],
};

const richModel: Model = {
  irVersion: 8,
  opsetImports: [
    { domain: '', version: 17 },
    { domain: 'com.microsoft', version: 1 },
  ],
  producerName: 'onnx-io test',
  metadata: { purpose: 'round trip' },
  graph: {
    name: 'main',
    nodes: [
      {
        name: '/block/const',
        opType: 'Constant',
        domain: '',
        inputs: [],
        outputs: ['c'],
        attributes: { value: { type: 'tensor', value: tensor('', DataType.INT64, [2], new BigInt64Array([1n, -1n])) } },
      },
      {
        name: '/block/if',
        opType: 'If',
        domain: '',
        inputs: ['cond'],
        outputs: ['y'],
        attributes: {
          then_branch: { type: 'graph', value: thenBranch },
          else_branch: { type: 'graph', value: thenBranch },
        },
      },
      {
        name: 'attrs',
        opType: 'Custom',
        domain: 'com.microsoft',
        inputs: ['x', '', 'c'],
        outputs: ['z'],
        attributes: {
          f: { type: 'float', value: 0.5 },
          i: { type: 'int', value: -3 },
          s: { type: 'string', value: 'héllo' },
          fs: { type: 'floats', value: [1, 0.25] },
          is: { type: 'ints', value: [0, -1, 2 ** 40] },
          ss: { type: 'strings', value: ['a', ''] },
        },
      },
    ],
    inputs: [
      { name: 'x', elemType: DataType.FLOAT, shape: ['batch', 4] },
      { name: 'cond', elemType: DataType.BOOL, shape: [] },
      { name: 'unknown_rank', elemType: DataType.FLOAT, shape: null },
      { name: 'unknown_dim', elemType: DataType.FLOAT, shape: [null, 3] },
    ],
    outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 4] }],
    initializers: new Map(everyDtype.map((t) => [t.name, t])),
    valueInfo: [{ name: 'c', elemType: DataType.INT64, shape: [2] }],
  },
};

describe('ONNX protobuf I/O', () => {
  it('round-trips every dtype, attribute kind, subgraph and symbolic dim exactly', () => {
    const bytes = serializeModel(richModel);
    const back = parseModel(bytes);
    expect(back).toEqual(richModel);
    // Typed arrays keep their class (INT64 as BigInt64Array, BOOL as Uint8Array).
    expect(back.graph.initializers.get('i64')!.data).toBeInstanceOf(BigInt64Array);
    expect(back.graph.initializers.get('u64')!.data).toBeInstanceOf(BigUint64Array);
    expect(serializeModel(back)).toEqual(bytes);
  });

  it('reads the typed *_data fields as well as raw_data', () => {
    const proto = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        initializer: [
          { name: 'f', dataType: DataType.FLOAT, dims: [2], floatData: [1.5, -2] },
          { name: 'd', dataType: DataType.DOUBLE, dims: [1], doubleData: [0.1] },
          { name: 'l', dataType: DataType.INT64, dims: [2], int64Data: [-5, 2 ** 40] },
          { name: 'b', dataType: DataType.BOOL, dims: [2], int32Data: [1, 0] },
          { name: 'h', dataType: DataType.FLOAT16, dims: [1], int32Data: [0x3c00] },
          { name: 'u', dataType: DataType.UINT32, dims: [1], uint64Data: [4000000000] },
        ],
      },
    });
    proto.graph!.node = [
      onnx.NodeProto.create({
        name: 'slice',
        opType: 'X',
        // INT64_MAX, as exporters write "to the end": a double cannot hold it, so it reads as 2^53 − 1.
        attribute: [
          {
            name: 'end',
            type: onnx.AttributeProto.AttributeType.INT,
            i: { low: -1, high: 0x7fffffff, unsigned: false },
          },
        ],
      }),
    ];
    const model = parseModel(onnx.ModelProto.encode(proto).finish());
    expect(model.graph.nodes[0]!.attributes.end).toEqual({ type: 'int', value: Number.MAX_SAFE_INTEGER });
    const get = (name: string) => model.graph.initializers.get(name)!.data;
    expect(get('f')).toEqual(new Float32Array([1.5, -2]));
    expect(get('d')).toEqual(new Float64Array([0.1]));
    expect(get('l')).toEqual(new BigInt64Array([-5n, 2n ** 40n]));
    expect(get('b')).toEqual(new Uint8Array([1, 0]));
    expect(get('h')).toEqual(new Uint16Array([0x3c00]));
    expect(get('u')).toEqual(new Uint32Array([4000000000]));
  });

  function encoded(graph: Record<string, unknown>, opset = 17, extra: Record<string, unknown> = {}): Uint8Array {
    return onnx.ModelProto.encode(
      onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph, ...extra }),
    ).finish();
  }

  it('names the tensor, node or setting at fault', () => {
    const external = encoded({
      name: 'g',
      initializer: [
        { name: 'w', dataType: 1, dims: [2], dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] },
      ],
    });
    expect(() => parseModel(external)).toThrow(/tensor 'w'.*external file/);
    const short = encoded({
      name: 'g',
      initializer: [{ name: 'w', dataType: 1, dims: [3], rawData: new Uint8Array(8) }],
    });
    expect(() => parseModel(short)).toThrow(/graph 'g' › tensor 'w': holds 2 elements but dims \[3\] need 3/);
    const badAttr = encoded({
      name: 'g',
      node: [{ name: '/h.0/odd', opType: 'X', attribute: [{ name: 'tp', type: 13, tp: {} }] }],
    });
    expect(() => parseModel(badAttr)).toThrow(/node '\/h.0\/odd' \(X\) › attribute 'tp': attribute type TYPE_PROTO/);
    const stringTensor = encoded({
      name: 'g',
      initializer: [{ name: 'vocab', dataType: 8, dims: [1], stringData: [] }],
    });
    expect(() => parseModel(stringTensor)).toThrow(/tensor 'vocab': tensor data type STRING is not supported/);
    expect(() => parseModel(encoded({ name: 'g' }, 11))).toThrow(/opset 11 is outside the supported range 13–21/);
    expect(() => parseModel(encoded({ name: 'g' }, 17, { functions: [{ name: 'f', domain: 'x' }] }))).toThrow(
      /local functions \(f\)/,
    );
    expect(() => parseModel(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(/not a valid ONNX protobuf/);
    const wrongArray = structuredClone(richModel);
    (wrongArray.graph.initializers as Map<string, TensorInit>).set(
      'f64',
      tensor('f64', DataType.DOUBLE, [1], new Float32Array(1)),
    );
    expect(() => serializeModel(wrongArray)).toThrow(
      /tensor 'f64': data is a Float32Array, DOUBLE needs a Float64Array/,
    );
  });

  it('writes bytes that onnxruntime-web runs correctly (float64 weights, int64 side path, symbolic batch)', async () => {
    // y = (x @ W + b) * cast(shape(x)[0]) : exercises DOUBLE math, an INT64 Shape/Gather/Cast path and a Constant.
    const w = new Float64Array([1, 2, 3, 4, 5, 6]);
    const b = new Float64Array([0.5, -0.5]);
    const model: Model = {
      irVersion: 8,
      opsetImports: [{ domain: '', version: 17 }],
      producerName: 'test',
      metadata: {},
      graph: {
        name: 'g',
        nodes: [
          { name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['xw'], attributes: {} },
          { name: 'add', opType: 'Add', domain: '', inputs: ['xw', 'b'], outputs: ['lin'], attributes: {} },
          { name: 'shape', opType: 'Shape', domain: '', inputs: ['x'], outputs: ['shp'], attributes: {} },
          {
            name: 'zero',
            opType: 'Constant',
            domain: '',
            inputs: [],
            outputs: ['zero'],
            attributes: { value: { type: 'tensor', value: tensor('', DataType.INT64, [], new BigInt64Array([0n])) } },
          },
          {
            name: 'batch',
            opType: 'Gather',
            domain: '',
            inputs: ['shp', 'zero'],
            outputs: ['n'],
            attributes: { axis: { type: 'int', value: 0 } },
          },
          {
            name: 'cast',
            opType: 'Cast',
            domain: '',
            inputs: ['n'],
            outputs: ['nf'],
            attributes: { to: { type: 'int', value: DataType.DOUBLE } },
          },
          { name: 'scale', opType: 'Mul', domain: '', inputs: ['lin', 'nf'], outputs: ['y'], attributes: {} },
        ],
        inputs: [{ name: 'x', elemType: DataType.DOUBLE, shape: ['batch', 3] }],
        outputs: [{ name: 'y', elemType: DataType.DOUBLE, shape: ['batch', 2] }],
        initializers: new Map([
          ['W', tensor('W', DataType.DOUBLE, [3, 2], w)],
          ['b', tensor('b', DataType.DOUBLE, [2], b)],
        ]),
        valueInfo: [],
      },
    };
    const session = await ort.InferenceSession.create(serializeModel(model), { executionProviders: ['wasm'] });
    const x = new Float64Array([1, 0, -1, 0.5, 0.25, 2]);
    const { y } = await session.run({ x: new ort.Tensor('float64', x, [2, 3]) });
    const expected = new Float64Array(4);
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 2; c++) {
        let sum = b[c]!;
        for (let k = 0; k < 3; k++) sum += x[r * 3 + k]! * w[k * 2 + c]!;
        expected[r * 2 + c] = sum * 2;
      }
    }
    expect(y!.dims).toEqual([2, 2]);
    expect(y!.data).toEqual(expected); // exact: same float64 operations in the same order
    await session.release();
  });

  it('reads a model the official onnx Python package wrote (typed fields, opset 21, IR 10) and rewrites it runnable', async () => {
    // tests/fixtures/onnx/make_reference_model.py wrote these with onnx 1.23.1 and numpy.
    const fixture = (name: string) => new URL(`../fixtures/onnx/${name}`, import.meta.url);
    const bytes = new Uint8Array(readFileSync(fixture('reference-typed-fields.onnx')));
    const expected = JSON.parse(readFileSync(fixture('reference-typed-fields.json'), 'utf8')) as {
      x: number[][];
      y: number[][];
      big: string;
      shift_bits: number[];
    };
    const model = parseModel(bytes);
    expect(model.irVersion).toBe(10);
    expect(model.opsetImports).toEqual([{ domain: '', version: 21 }]);
    expect(model.graph.inputs).toEqual([{ name: 'x', elemType: DataType.FLOAT, shape: ['N', 3] }]);
    expect(model.graph.outputs[1]).toEqual({ name: 'flat', elemType: DataType.FLOAT, shape: [null] });
    const init = (name: string) => model.graph.initializers.get(name)!.data;
    expect(init('W')).toEqual(new Float32Array([0.5, -1, 2, 0.25, -0.75, 1.5]));
    expect(init('order')).toEqual(new BigInt64Array([1n, 0n]));
    expect(init('scale')).toEqual(new Float64Array([1.5]));
    expect(init('keep')).toEqual(new Uint8Array([1, 0]));
    expect(init('shift')).toEqual(Uint16Array.from(expected.shift_bits));
    expect(init('big')).toEqual(new BigInt64Array([BigInt(expected.big)])); // 2^62 + 1: exact, not via a double
    expect(model.graph.nodes.find((n) => n.opType === 'Constant')!.attributes).toEqual({
      value_ints: { type: 'ints', value: [-1] },
    });

    const x = new ort.Tensor('float32', Float32Array.from(expected.x.flat()), [2, 3]);
    for (const source of [bytes, serializeModel(model)]) {
      const session = await ort.InferenceSession.create(source, { executionProviders: ['wasm'] });
      const { y, flat, big_out } = await session.run({ x });
      const got = Array.from(y!.data as Float32Array);
      expected.y.flat().forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
      expect(Array.from(flat!.data as Float32Array)).toEqual(got);
      expect(big_out!.data).toEqual(new BigInt64Array([BigInt(expected.big)]));
      await session.release();
    }
  });
});
