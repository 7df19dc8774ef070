import { afterAll, describe, expect, it } from 'vitest';
import { buildGptForward, gptParameters, initGptWeights, type GptConfig } from '../../src/models/gpt';
import { erf, gptReference } from '../../src/models/reference';
import { type FloatDtype, type Weights } from '../../src/models/weights';
import { seededNormal, seededUniform } from '../../src/core/random';
import { parseModel, serializeModel } from '../../src/onnx/protobuf';
import { ModelSession, padBatch } from '../../src/onnx/runtime';
import { tinyGpt } from '../helpers/tiny-gpt';

const config = tinyGpt({ vocabSize: 13, maxPositions: 12, nLayer: 2, gelu: 'erf' });
const sessions: ModelSession[] = [];
afterAll(async () => Promise.all(sessions.map((s) => s.release())));

/** GPT-2's init leaves biases 0 and LayerNorms identity; a test needs every parameter to matter. */
function randomised(weights: Weights, seed: number, scale: number): Weights {
  const normal = seededNormal(seededUniform(seed));
  return Object.fromEntries(
    Object.entries(weights).map(([name, t]) => {
      const data = t.data.map((v) => v + scale * normal()) as typeof t.data;
      return [name, { dims: t.dims, data }];
    }),
  );
}

function gptWeights(dtype: FloatDtype, gelu: GptConfig['gelu']): [GptConfig, Weights] {
  const c = { ...config, gelu };
  return [c, randomised(initGptWeights(c, 7, dtype), 8, 0.3)];
}

async function runGpt(
  c: GptConfig,
  weights: Weights,
  sequences: number[][],
): Promise<{ logits: Float64Array; T: number }> {
  const session = await ModelSession.create(buildGptForward(c, weights));
  sessions.push(session);
  const batch = padBatch(sequences, 0);
  const { logits } = await session.run({ input_ids: batch.inputIds, attention_mask: batch.attentionMask });
  expect(logits!.dims).toEqual([sequences.length, batch.inputIds.dims[1], c.vocabSize]);
  return { logits: Float64Array.from(logits!.data as Float32Array | Float64Array), T: batch.inputIds.dims[1]! };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

const sequences = [
  [1, 5, 9, 2, 12, 3, 7],
  [4, 4, 11, 6, 0, 10, 8],
];
const allOnes = sequences.map((s) => s.map(() => 1));

describe('GPT forward graph', () => {
  it('float32 graph with erf GELU matches the float64 TypeScript forward (|Δ| ≤ 2e-5 on logits of size ~1)', async () => {
    const [c, weights] = gptWeights('float32', 'erf');
    const { logits } = await runGpt(c, weights, sequences);
    const expected = gptReference(c, weights, sequences, allOnes);
    expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(0.5); // the comparison is not of near-zeros
    expect(maxAbsDiff(logits, expected)).toBeLessThan(2e-5);
  });

  it('float64 graph with tanh GELU matches the float64 TypeScript forward to 1e-12', async () => {
    const [c, weights] = gptWeights('float64', 'tanh');
    const { logits } = await runGpt(c, weights, sequences);
    expect(maxAbsDiff(logits, gptReference(c, weights, sequences, allOnes))).toBeLessThan(1e-12);
  });

  it('right-padding leaves every real position of every sequence unchanged', async () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const [c, weights] = gptWeights(dtype, 'tanh');
      const ragged = [
        [3, 1, 4, 1, 5, 9, 2, 6],
        [2, 7, 1],
        [8, 2, 8, 1, 8],
      ];
      const { logits, T } = await runGpt(c, weights, ragged);
      const tolerance = dtype === 'float64' ? 1e-12 : 1e-5;
      for (const [row, sequence] of ragged.entries()) {
        const alone = await runGpt(c, weights, [sequence]);
        const padded = logits.subarray(row * T * c.vocabSize, (row * T + sequence.length) * c.vocabSize);
        expect(maxAbsDiff(padded, alone.logits), `${dtype} sequence ${row}`).toBeLessThan(tolerance);
      }
    }
  });

  it('has torch.onnx-style node names, PyTorch parameter names and dynamic axes, and round-trips through protobuf', () => {
    const [c, weights] = gptWeights('float32', 'erf');
    const model = buildGptForward(c, weights);
    const names = model.graph.nodes.map((n) => n.name);
    for (const expected of [
      '/h.0/mlp/c_fc/MatMul',
      '/h.0/mlp/c_fc/Add',
      '/h.1/mlp/c_proj/MatMul',
      '/h.0/attn/c_attn/MatMul',
      '/h.0/ln_1/LayerNormalization',
      '/lm_head/MatMul',
      '/wte/Gather',
    ]) {
      expect(names).toContain(expected);
    }
    expect(new Set(names).size).toBe(names.length);
    const fc = model.graph.nodes.find((n) => n.name === '/h.0/mlp/c_fc/MatMul')!;
    expect(fc.inputs[1]).toBe('h.0.mlp.c_fc.weight');
    expect(model.graph.initializers.get('h.0.mlp.c_fc.weight')!.dims).toEqual([8, 16]);
    expect(model.graph.initializers.size).toBe(gptParameters(c).length);
    // Integer and boolean side paths like exporters emit.
    for (const op of ['Shape', 'Range', 'Less', 'Not', 'And', 'Cast', 'Where', 'Split', 'Softmax', 'Erf']) {
      expect(
        model.graph.nodes.some((n) => n.opType === op),
        op,
      ).toBe(true);
    }
    expect(model.graph.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['input_ids', ['batch', 'sequence']],
      ['attention_mask', ['batch', 'sequence']],
    ]);
    expect(model.graph.outputs).toEqual([{ name: 'logits', elemType: 1, shape: ['batch', 'sequence', 13] }]);
    expect(model.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(parseModel(serializeModel(model))).toEqual(model);
  });

  it('initialises deterministically from the seed, GPT-2 style', () => {
    const a = initGptWeights(config, 1);
    expect(initGptWeights(config, 1)).toEqual(a);
    expect(initGptWeights(config, 2)['wte.weight']!.data).not.toEqual(a['wte.weight']!.data);
    const wte = a['wte.weight']!.data;
    const std = Math.sqrt(Array.from(wte).reduce((s, v) => s + v * v, 0) / wte.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    expect(Array.from(a['h.0.ln_1.weight']!.data)).toEqual(new Array(8).fill(1));
    expect(Array.from(a['h.1.mlp.c_fc.bias']!.data)).toEqual(new Array(16).fill(0));
  });

  it('names the missing or misshapen weight and refuses float64 with erf', () => {
    const weights = { ...initGptWeights(config, 1) };
    delete (weights as Record<string, unknown>)['h.1.mlp.c_proj.bias'];
    expect(() => buildGptForward(config, weights)).toThrow(
      /weight 'h.1.mlp.c_proj.bias' is missing \(expected dims \[8\]\)/,
    );
    const misshapen = { ...initGptWeights(config, 1), 'ln_f.weight': { dims: [9], data: new Float32Array(9) } };
    expect(() => buildGptForward(config, misshapen)).toThrow(
      /weight 'ln_f.weight' has dims \[9\], the architecture needs \[8\]/,
    );
    expect(() => buildGptForward(config, initGptWeights(config, 1, 'float64'))).toThrow(/no float64 Erf kernel/);
    expect(() => initGptWeights({ ...config, nHead: 3 }, 1)).toThrow(/dModel 8 is not divisible by nHead 3/);
  });

  it('reference erf is accurate (it is the oracle for the Erf-form GELU)', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(-1)).toBeCloseTo(-0.8427007929497149, 14);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 14);
    expect(erf(2.4)).toBeCloseTo(0.999311486103355, 14);
  });
});
