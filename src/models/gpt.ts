/**
 * A GPT-2-style causal language model as a plain forward ONNX graph (opset 17), laid out the way torch.onnx exports
 * Hugging Face's GPT2LMHeadModel: node names keep module paths ('/h.0/mlp/c_fc/MatMul'), the attention mask is built
 * from Shape/Range/Less/Not/And on integer and boolean side paths, and batch and sequence are dynamic axes.
 *
 * Inputs: input_ids int64 [batch, sequence], attention_mask int64 [batch, sequence] (1 = token, 0 = padding).
 * Output: logits [batch, sequence, vocab] in the weights' float type.
 */
import { attr, GraphBuilder } from '../onnx/builder';
import { DataType, type Model } from '../onnx/ir';
import { gelu, layerNorm, linear, type GeluForm } from './layers';
import {
  requireWeight,
  sampledTensor,
  weightsDataType,
  type FloatDtype,
  type WeightTensor,
  type Weights,
} from './weights';
import { seededNormal, seededUniform } from '../core/random';

export interface GptConfig {
  readonly vocabSize: number;
  /** Longest sequence the position embedding covers. */
  readonly maxPositions: number;
  readonly dModel: number;
  readonly nLayer: number;
  readonly nHead: number;
  /** Hidden width of the MLP (GPT-2: 4·dModel). */
  readonly dMlp: number;
  readonly layerNormEpsilon: number;
  /** 'tanh' is GPT-2's; onnxruntime's CPU/wasm EP has no float64 Erf, so float64 graphs need 'tanh'. */
  readonly gelu: GeluForm;
}

type Init = 'normal' | 'residual-normal' | 'zeros' | 'ones';

/**
 * Every parameter with its dims and GPT-2 initialisation. Linear weights inside blocks use GPT-2's Conv1D layout
 * [d_in, d_out] (used by MatMul as is); lm_head is an nn.Linear, [vocab, dModel].
 */
export function gptParameters(config: GptConfig): [name: string, dims: number[], init: Init][] {
  const { vocabSize: V, maxPositions: P, dModel: D, dMlp: F } = config;
  const params: [string, number[], Init][] = [
    ['wte.weight', [V, D], 'normal'],
    ['wpe.weight', [P, D], 'normal'],
  ];
  for (let i = 0; i < config.nLayer; i++) {
    const h = `h.${i}`;
    params.push(
      [`${h}.ln_1.weight`, [D], 'ones'],
      [`${h}.ln_1.bias`, [D], 'zeros'],
      [`${h}.attn.c_attn.weight`, [D, 3 * D], 'normal'],
      [`${h}.attn.c_attn.bias`, [3 * D], 'zeros'],
      [`${h}.attn.c_proj.weight`, [D, D], 'residual-normal'],
      [`${h}.attn.c_proj.bias`, [D], 'zeros'],
      [`${h}.ln_2.weight`, [D], 'ones'],
      [`${h}.ln_2.bias`, [D], 'zeros'],
      [`${h}.mlp.c_fc.weight`, [D, F], 'normal'],
      [`${h}.mlp.c_fc.bias`, [F], 'zeros'],
      [`${h}.mlp.c_proj.weight`, [F, D], 'residual-normal'],
      [`${h}.mlp.c_proj.bias`, [D], 'zeros'],
    );
  }
  params.push(['ln_f.weight', [D], 'ones'], ['ln_f.bias', [D], 'zeros'], ['lm_head.weight', [V, D], 'normal']);
  return params;
}

/** GPT-2's initialisation: N(0, 0.02), residual projections N(0, 0.02/√(2·nLayer)), LayerNorm 1 and 0, biases 0. */
export function initGptWeights(config: GptConfig, seed: number, dtype: FloatDtype = 'float32'): Weights {
  validateGptConfig(config);
  const normal = seededNormal(seededUniform(seed));
  const residualStd = 0.02 / Math.sqrt(2 * config.nLayer);
  const weights: Record<string, WeightTensor> = {};
  for (const [name, dims, init] of gptParameters(config)) {
    const sample =
      init === 'normal'
        ? () => 0.02 * normal()
        : init === 'residual-normal'
          ? () => residualStd * normal()
          : init === 'ones'
            ? () => 1
            : () => 0;
    weights[name] = sampledTensor(dtype, dims, sample);
  }
  return weights;
}

function validateGptConfig(config: GptConfig): void {
  for (const key of ['vocabSize', 'maxPositions', 'dModel', 'nLayer', 'nHead', 'dMlp'] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 1)
      throw new Error(`GptConfig.${key} must be a positive integer, got ${config[key]}`);
  }
  if (config.dModel % config.nHead !== 0) {
    throw new Error(`GptConfig: dModel ${config.dModel} is not divisible by nHead ${config.nHead}`);
  }
}

/** The lowest finite value of the float type: what exporters write into masked attention scores. */
function lowestFinite(floatType: DataType): number {
  return floatType === DataType.DOUBLE ? -Number.MAX_VALUE : -3.4028234663852886e38;
}

export function buildGptForward(config: GptConfig, weights: Weights): Model {
  validateGptConfig(config);
  const floatType = weightsDataType(weights);
  if (floatType === DataType.DOUBLE && config.gelu === 'erf') {
    throw new Error(
      "GptConfig.gelu 'erf' with float64 weights: onnxruntime's wasm EP has no float64 Erf kernel; use 'tanh'",
    );
  }
  const { dModel: D, nHead: H, dMlp: F } = config;
  const b = new GraphBuilder('main_graph');
  const ids = b.input('input_ids', DataType.INT64, ['batch', 'sequence']);
  const mask = b.input('attention_mask', DataType.INT64, ['batch', 'sequence']);
  const param = (name: string, dims: number[]) => b.initializer(name, dims, requireWeight(weights, name, dims).data);

  // Integer side path: positions 0..T-1 from the runtime sequence length.
  const seqLen = b.op1('Gather', [b.op1('Shape', [ids]), b.constant(DataType.INT64, [], [1])], { axis: attr.int(0) });
  const positions = b.op1('Range', [b.constant(DataType.INT64, [], [0]), seqLen, b.constant(DataType.INT64, [], [1])]);

  const tokens = b.scope('wte', () => b.op1('Gather', [param('wte.weight', [config.vocabSize, D]), ids]));
  const placed = b.scope('wpe', () => b.op1('Gather', [param('wpe.weight', [config.maxPositions, D]), positions]));
  let hidden = b.op1('Add', [tokens, placed]);

  // Boolean side path: key j is visible to query i when j <= i and key j is not padding. [batch, 1, T, T]
  const queryIndex = b.op1('Unsqueeze', [positions, b.int64s([1])]);
  const keyIndex = b.op1('Unsqueeze', [positions, b.int64s([0])]);
  const causal = b.op1('Not', [b.op1('Less', [queryIndex, keyIndex])]);
  const keyPresent = b.op1('Unsqueeze', [b.op1('Cast', [mask], { to: attr.int(DataType.BOOL) }), b.int64s([1, 2])]);
  const visible = b.op1('And', [causal, keyPresent]);
  const maskedScore = b.scalar(lowestFinite(floatType), floatType);

  for (let i = 0; i < config.nLayer; i++) {
    hidden = b.scope(`h.${i}`, () => {
      const prefix = `h.${i}`;
      const normed1 = layerNorm(b, weights, hidden, 'ln_1', `${prefix}.ln_1`, D, config.layerNormEpsilon);
      const attended = b.scope('attn', () => {
        const qkv = linear(
          b,
          weights,
          normed1,
          { module: 'c_attn', param: `${prefix}.attn.c_attn`, dIn: D, dOut: 3 * D, bias: true, layout: 'in-out' },
          'matmul',
        );
        return attention(qkv, `${prefix}.attn`);
      });
      const residual1 = b.op1('Add', [hidden, attended]);
      const normed2 = layerNorm(b, weights, residual1, 'ln_2', `${prefix}.ln_2`, D, config.layerNormEpsilon);
      const mlpOut = b.scope('mlp', () => {
        const up = linear(
          b,
          weights,
          normed2,
          { module: 'c_fc', param: `${prefix}.mlp.c_fc`, dIn: D, dOut: F, bias: true, layout: 'in-out' },
          'matmul',
        );
        const activated = b.scope('act', () => gelu(b, up, config.gelu, floatType));
        return linear(
          b,
          weights,
          activated,
          { module: 'c_proj', param: `${prefix}.mlp.c_proj`, dIn: F, dOut: D, bias: true, layout: 'in-out' },
          'matmul',
        );
      });
      return b.op1('Add', [residual1, mlpOut]);
    });
  }
  const final = layerNorm(b, weights, hidden, 'ln_f', 'ln_f', D, config.layerNormEpsilon);
  const head = {
    module: 'lm_head',
    dIn: D,
    dOut: config.vocabSize,
    bias: false,
    layout: 'out-in',
    outputName: 'logits',
  } as const;
  linear(b, weights, final, head, 'matmul');
  b.output('logits', floatType, ['batch', 'sequence', config.vocabSize]);
  return b.build({ metadata: { 'iwb.architecture': 'gpt', 'iwb.config': JSON.stringify(config) } });

  /** Causal multi-head self-attention on the fused q|k|v projection [B, T, 3D]; returns the c_proj output. */
  function attention(qkv: string, param: string): string {
    const [q, k, v] = b.op('Split', [qkv, b.int64s([D, D, D])], { axis: attr.int(2) }, { outputs: 3 }) as [
      string,
      string,
      string,
    ];
    const heads = b.int64s([0, 0, H, D / H]);
    const split = (x: string, perm: number[]) =>
      b.op1('Transpose', [b.op1('Reshape', [x, heads])], { perm: attr.ints(perm) });
    const query = split(q, [0, 2, 1, 3]); // [B, H, T, Dh]
    const keyT = split(k, [0, 2, 3, 1]); // [B, H, Dh, T]
    const value = split(v, [0, 2, 1, 3]); // [B, H, T, Dh]
    const scores = b.op1('Div', [b.op1('MatMul', [query, keyT]), b.scalar(Math.sqrt(D / H), floatType)]);
    const probs = b.op1('Softmax', [b.op1('Where', [visible, scores, maskedScore])], { axis: attr.int(-1) });
    const context = b.op1('Transpose', [b.op1('MatMul', [probs, value])], { perm: attr.ints([0, 2, 1, 3]) });
    const merged = b.op1('Reshape', [context, b.int64s([0, 0, D])]);
    return linear(
      b,
      weights,
      merged,
      { module: 'c_proj', param: `${param}.c_proj`, dIn: D, dOut: D, bias: true, layout: 'in-out' },
      'matmul',
    );
  }
}
