import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { attr, GraphBuilder } from '../../src/onnx/builder';
import { DataType } from '../../src/onnx/ir';
import { parseModel, serializeModel } from '../../src/onnx/protobuf';

ort.env.wasm.numThreads = 1;

describe('GraphBuilder', () => {
  it('names nodes by module path like torch.onnx, uniquely', () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['batch', 2]);
    const w = b.initializer('h.0.mlp.c_fc.weight', [2, 2], new Float32Array([1, 2, 3, 4]));
    const [y1, y2] = b.scope('h.0', () =>
      b.scope('mlp', () => b.scope('c_fc', () => [b.op1('MatMul', [x, w]), b.op1('MatMul', [x, w])])),
    );
    expect(y1).toBe('/h.0/mlp/c_fc/MatMul_output_0');
    expect(y2).toBe('/h.0/mlp/c_fc/MatMul_1_output_0');
    const model = b.build();
    expect(model.graph.nodes.map((n) => n.name)).toEqual(['/h.0/mlp/c_fc/MatMul', '/h.0/mlp/c_fc/MatMul_1']);
    expect(model.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(model.irVersion).toBe(8);
    expect(model.graph.initializers.get('h.0.mlp.c_fc.weight')!.dataType).toBe(DataType.FLOAT);
  });

  it('rejects undefined inputs, duplicate names and wrong initializer sizes, naming them', () => {
    const b = new GraphBuilder();
    b.input('x', DataType.FLOAT, [2]);
    expect(() => b.op('Relu', ['nope'], {}, { name: '/act/Relu' })).toThrow(
      /node '\/act\/Relu' \(Relu\): input 'nope' is not defined/,
    );
    expect(() => b.input('x', DataType.FLOAT, [2])).toThrow(/graph input 'x': the name is already used/);
    expect(() => b.initializer('w', [2, 3], new Float32Array(5))).toThrow(/initializer 'w': 5 values for dims \[2,3\]/);
    expect(() => b.output('missing', DataType.FLOAT, null)).toThrow(/graph output 'missing'/);
    expect(() => b.op('Relu', ['x'], {}, { outputs: ['x'] })).toThrow(/output 'x' is already defined/);
  });

  it('continues a parsed graph without clashing with its names, and the result runs in onnxruntime-web', async () => {
    const first = new GraphBuilder();
    const x = first.input('x', DataType.FLOAT, ['batch', 3]);
    const sum = first.op1('ReduceSum', [x, first.int64s([1])], { keepdims: attr.int(0) });
    first.op('Mul', [sum, first.scalar(0.5)], {}, { outputs: ['y'] });
    first.output('y', DataType.FLOAT, ['batch']);
    const parsed = parseModel(serializeModel(first.build()));

    const second = GraphBuilder.fromGraph(parsed.graph);
    const again = second.op1('Mul', ['y', second.scalar(0.5)]);
    expect(again).toBe('/Mul_1_output_0');
    second.op('Exp', [again], {}, { outputs: ['z'] });
    second.output('z', DataType.FLOAT, ['batch']);
    const session = await ort.InferenceSession.create(serializeModel(second.build()));
    const { y, z } = await session.run({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, -1, 0, 1]), [2, 3]) });
    expect(Array.from(y!.data as Float32Array)).toEqual([3, 0]);
    const [z0, z1] = z!.data as Float32Array;
    expect(z0).toBeCloseTo(Math.exp(1.5), 5);
    expect(z1).toBe(1);
    await session.release();
  });
});
