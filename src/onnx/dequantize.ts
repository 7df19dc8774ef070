/**
 * Quantized models are dequantized on load: every quantized linear layer becomes a float32 MatMul whose weight is an
 * initializer holding the dequantized values, so the workbench attributes — and documents that it attributes — the
 * DEQUANTIZED model: the float32 model whose weights are exactly the values the quantized file encodes. Activations
 * are not quantized (a dynamic quantizer's rounding of x to 8 bits has no gradient; it is left out, so the forward
 * differs from onnxruntime's integer kernels by that rounding only).
 *
 * Handled (formats as onnxruntime's ContribOperators.md and the ONNX operator docs define them):
 * - com.microsoft MatMulNBits (transformers.js `model_q4.onnx`, onnxruntime's MatMul4BitsQuantizer): B uint8
 *   [N, k_blocks, blob_size] with k_blocks = ceil(K / block_size), blob_size = block_size · bits / 8; codes packed
 *   along K, low bits first; scales [N · k_blocks] (or [N, k_blocks]); zero points either packed uint8
 *   [N, ceil(k_blocks · bits / 8)] (the same packing per row n) or unpacked floats [N, k_blocks]; absent: 2^(bits−1).
 *   W[k, n] = (code − zero_point) · scale of block k / block_size in row n; codes at k ≥ K pad the last block.
 *   bits 2, 4 and 8 (codes within one byte); an optional bias [N] becomes an Add.
 * - DynamicQuantizeLinear + MatMulInteger as onnxruntime's quantize_dynamic writes a MatMul (`model_quantized.onnx`,
 *   `model_int8.onnx`): MatMulInteger(x_q, W_q, x_zp, W_zp) → Cast(float) → Mul(·, Mul(x_scale, W_scale)) becomes
 *   MatMul(x, (W_q − W_zp) · W_scale), W_scale and W_zp per tensor or per column n.
 * - DequantizeLinear on constants (QDQ weights, `DequantizeLinear → MatMul`): folded into a float32 initializer;
 *   y = (x − zero_point) · scale, per tensor, per axis (axis, default 1) or per block (block_size, opset 21).
 * - Gather on a quantized table followed by a per-tensor DequantizeLinear (quantize_dynamic's embeddings): the
 *   Gather reads the dequantized table.
 * Numerics: (code − zero point) is an integer of at most 17 bits and the scale a float32, so their product is exact
 * in float64 and rounding it once to float32 gives what a float32 multiply gives (onnxruntime's dequantization).
 * Anything else quantized is refused before any work, naming the op and the node.
 */
import { DataType, type Graph, type Model, type Node, type TensorInit, type TensorValues } from './ir';

/** Metadata key recording what was dequantized on load ("MatMulNBits 4-bit × 14, …"), for listings. */
export const DEQUANTIZED_KEY = 'iwb.dequantized';

/** Ops that carry quantized values; one left after the rewrite is refused. */
const QUANTIZED_OPS = new Set([
  'MatMulNBits',
  'MatMulInteger',
  'DynamicQuantizeLinear',
  'DequantizeLinear',
  'QuantizeLinear',
  'QLinearMatMul',
  'QGemm',
  'QAttention',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
  'MatMulBnb4',
  'MatMulFpQ4',
  'GatherBlockQuantized',
  'ConvInteger',
  'QLinearConv',
  'QLinearAdd',
  'QLinearMul',
  'DynamicQuantizeLSTM',
  'QEmbedLayerNormalization',
]);

/** A quantized model that cannot be dequantized: names the op, the node and why. */
export class DequantizeError extends Error {
  constructor(node: Node, problem: string) {
    super(
      `cannot dequantize ${node.opType} at node "${node.name}": ${problem}. Supported: MatMulNBits (2/4/8-bit ` +
        'blocks), DynamicQuantizeLinear + MatMulInteger, DequantizeLinear on constant weights (docs/models.md)',
    );
    this.name = 'DequantizeError';
  }
}

class Refusal extends Error {}
const refuse = (problem: string): never => {
  throw new Refusal(problem);
};

const INTEGER_TYPES = new Set([DataType.INT8, DataType.UINT8, DataType.INT16, DataType.UINT16, DataType.INT32]);

function size(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function intAttribute(node: Node, key: string, fallback?: number): number {
  const a = node.attributes[key];
  if (a?.type === 'int') return a.value;
  if (fallback === undefined) refuse(`attribute ${key} is missing`);
  return fallback!;
}

/** Number values of a numeric (non-64-bit) tensor. */
function numbers(tensor: TensorInit): ArrayLike<number> {
  if (tensor.data instanceof BigInt64Array || tensor.data instanceof BigUint64Array)
    refuse(`'${tensor.name}' is a 64-bit integer tensor`);
  return tensor.data as Exclude<TensorValues, BigInt64Array | BigUint64Array>;
}

interface Context {
  readonly graph: Graph;
  /** Initializers, plus Constant nodes' values, by value name. */
  readonly constants: Map<string, TensorInit>;
  readonly producers: ReadonlyMap<string, Node>;
  readonly consumers: ReadonlyMap<string, readonly Node[]>;
}

function constant(ctx: Context, name: string | undefined, what: string): TensorInit {
  const tensor = name ? ctx.constants.get(name) : undefined;
  return tensor ?? refuse(`its ${what} '${name ?? ''}' is not a constant (an initializer or a Constant node)`);
}

function optionalConstant(ctx: Context, name: string | undefined, what: string): TensorInit | null {
  return name ? constant(ctx, name, what) : null;
}

/** The one node that reads `value`, or a refusal saying what was expected. */
function onlyConsumer(ctx: Context, value: string, opType: string): Node {
  const users = ctx.consumers.get(value) ?? [];
  const node = users[0];
  if (users.length !== 1 || node!.opType !== opType || ctx.graph.outputs.some((o) => o.name === value))
    refuse(`its output '${value}' is not read by exactly one ${opType} (as onnxruntime's quantize_dynamic writes it)`);
  return node!;
}

/** A rewrite of one quantized node: the nodes replacing it, new initializers, nodes it made dead. */
interface Rewrite {
  readonly nodes: Node[];
  readonly initializers: TensorInit[];
  readonly removed: readonly Node[];
  readonly label: string;
}

function freshName(ctx: Context, base: string, taken: Set<string>): string {
  let name = base;
  for (let i = 1; ctx.constants.has(name) || ctx.producers.has(name) || taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

/** The weight's name without the quantizer's suffix, when that name is free. */
function weightName(ctx: Context, quantized: string, taken: Set<string>): string {
  const stripped = quantized.replace(/_(Q\d+|quantized)$/, '');
  return freshName(ctx, stripped === quantized ? `${quantized}_dequantized` : stripped, taken);
}

/** Codes of `bits` bits packed low-first in bytes: code i of the run starting at byte `start`. */
function code(bytes: Uint8Array, start: number, i: number, bits: number): number {
  const perByte = 8 / bits;
  const byte = bytes[start + Math.floor(i / perByte)]!;
  return (byte >> ((i % perByte) * bits)) & ((1 << bits) - 1);
}

function matMulNBits(ctx: Context, node: Node, taken: Set<string>): Rewrite {
  const K = intAttribute(node, 'K');
  const N = intAttribute(node, 'N');
  const bits = intAttribute(node, 'bits', 4);
  const block = intAttribute(node, 'block_size');
  if (![2, 4, 8].includes(bits)) refuse(`bits = ${bits} (2, 4 and 8 are supported)`);
  if (block < 1 || (block * bits) % 8 !== 0) refuse(`block_size = ${block} does not fill whole bytes`);
  if (intAttribute(node, 'weight_prepacked', 0) !== 0) refuse('its weights are prepacked for one runtime');
  if (node.inputs[4]) refuse('g_idx (act-order) is not supported');
  const B = constant(ctx, node.inputs[1], 'weight B');
  const scales = constant(ctx, node.inputs[2], 'scales');
  const zeros = optionalConstant(ctx, node.inputs[3], 'zero points');
  const bias = optionalConstant(ctx, node.inputs[5], 'bias');
  const blocks = Math.ceil(K / block);
  const blob = (block * bits) / 8;
  if (B.dataType !== DataType.UINT8) refuse(`B '${B.name}' is ${DataType[B.dataType]}, not UINT8`);
  if (size(B.dims) !== N * blocks * blob)
    refuse(`B '${B.name}' has shape [${B.dims.join(', ')}], not [${N}, ${blocks}, ${blob}] (N, k_blocks, blob_size)`);
  if (scales.dataType !== DataType.FLOAT) refuse(`scales '${scales.name}' are not floating point`);
  if (size(scales.dims) !== N * blocks)
    refuse(`scales '${scales.name}' do not have N · k_blocks = ${N * blocks} values`);
  const zeroBytes = Math.ceil((blocks * bits) / 8);
  if (zeros && zeros.dataType === DataType.UINT8 && size(zeros.dims) !== N * zeroBytes)
    refuse(`packed zero points '${zeros.name}' do not have N · ceil(k_blocks · bits / 8) = ${N * zeroBytes} bytes`);
  if (zeros && zeros.dataType !== DataType.UINT8 && size(zeros.dims) !== N * blocks)
    refuse(`zero points '${zeros.name}' do not have N · k_blocks = ${N * blocks} values`);
  if (bias && size(bias.dims) !== N) refuse(`bias '${bias.name}' does not have N = ${N} values`);
  const packed = B.data as Uint8Array;
  const scale = numbers(scales);
  const zeroValues = zeros ? numbers(zeros) : null;
  const weight = new Float32Array(K * N); // [K, N]: MatMul's layout
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const s = scale[n * blocks + b]!;
      const zero = !zeros
        ? 2 ** (bits - 1)
        : zeros.dataType === DataType.UINT8
          ? code(zeros.data as Uint8Array, n * zeroBytes, b, bits)
          : zeroValues![n * blocks + b]!;
      const start = (n * blocks + b) * blob;
      for (let i = 0; i < block && b * block + i < K; i++) {
        weight[(b * block + i) * N + n] = (code(packed, start, i, bits) - zero) * s;
      }
    }
  }
  const name = weightName(ctx, B.name, taken);
  const initializers: TensorInit[] = [{ name, dataType: DataType.FLOAT, dims: [K, N], data: weight }];
  const output = node.outputs[0]!;
  const matmulName = node.name.replace(/_Q\d+$/, '');
  if (!bias) {
    const matmul: Node = {
      name: matmulName,
      opType: 'MatMul',
      domain: '',
      inputs: [node.inputs[0]!, name],
      outputs: [output],
      attributes: {},
    };
    return { nodes: [matmul], initializers, removed: [], label: `MatMulNBits ${bits}-bit` };
  }
  const product = freshName(ctx, `${output}_unbiased`, taken);
  const biasName = freshName(ctx, `${bias.name}_float`, taken);
  initializers.push({ name: biasName, dataType: DataType.FLOAT, dims: [N], data: Float32Array.from(numbers(bias)) });
  const nodes: Node[] = [
    {
      name: matmulName,
      opType: 'MatMul',
      domain: '',
      inputs: [node.inputs[0]!, name],
      outputs: [product],
      attributes: {},
    },
    {
      name: `${matmulName}_bias`,
      opType: 'Add',
      domain: '',
      inputs: [product, biasName],
      outputs: [output],
      attributes: {},
    },
  ];
  return { nodes, initializers, removed: [], label: `MatMulNBits ${bits}-bit` };
}

/** A scalar or per-column [N] (or [1, N]) parameter's value at column n. */
function perColumn(tensor: TensorInit | null, N: number, what: string): (n: number) => number {
  if (!tensor) return () => 0;
  const values = numbers(tensor);
  if (values.length === 1) return () => values[0]!;
  if (values.length === N) return (n) => values[n]!;
  return refuse(
    `its ${what} '${tensor.name}' is neither per tensor nor per column (${values.length} values, N = ${N})`,
  );
}

function matMulInteger(ctx: Context, node: Node, taken: Set<string>): Rewrite {
  const quantizer = ctx.producers.get(node.inputs[0] ?? '');
  if (quantizer?.opType !== 'DynamicQuantizeLinear' || quantizer.outputs[0] !== node.inputs[0])
    refuse('its input A is not the output of a DynamicQuantizeLinear');
  if (node.inputs[2] && node.inputs[2] !== quantizer!.outputs[2])
    refuse("A's zero point is not the DynamicQuantizeLinear's");
  const B = constant(ctx, node.inputs[1], 'weight B');
  if (B.dims.length !== 2) refuse(`weight B '${B.name}' is not 2-D`);
  if (B.dataType !== DataType.INT8 && B.dataType !== DataType.UINT8) refuse(`weight B '${B.name}' is not 8-bit`);
  const [K, N] = B.dims as [number, number];
  const cast = onlyConsumer(ctx, node.outputs[0]!, 'Cast');
  if (intAttribute(cast, 'to') !== DataType.FLOAT) refuse(`Cast "${cast.name}" does not cast to float`);
  const mul = onlyConsumer(ctx, cast.outputs[0]!, 'Mul');
  const scaleValue = mul.inputs.find((i) => i !== cast.outputs[0]) ?? '';
  const scaleMul = ctx.producers.get(scaleValue);
  const xScale = quantizer!.outputs[1];
  if (scaleMul?.opType !== 'Mul' || !scaleMul.inputs.includes(xScale!))
    refuse(`Mul "${mul.name}" does not scale by the product of x's scale and the weight's`);
  const wScale = constant(
    ctx,
    scaleMul!.inputs.find((i) => i !== xScale),
    "weight's scale",
  );
  const scale = perColumn(wScale, N, 'scale');
  const zero = perColumn(optionalConstant(ctx, node.inputs[3], "weight's zero point"), N, 'zero point');
  const q = numbers(B);
  const weight = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) weight[k * N + n] = (q[k * N + n]! - zero(n)) * scale(n);
  const name = weightName(ctx, B.name, taken);
  const matmul: Node = {
    name: node.name.replace(/_quant$/, ''),
    opType: 'MatMul',
    domain: '',
    inputs: [quantizer!.inputs[0]!, name],
    outputs: [mul.outputs[0]!],
    attributes: {},
  };
  const initializers = [{ name, dataType: DataType.FLOAT, dims: [K, N], data: weight }];
  return { nodes: [matmul], initializers, removed: [cast, mul, scaleMul!, quantizer!], label: 'MatMulInteger 8-bit' };
}

/** y = (x − zero point) · scale for a constant x: per tensor, per axis or per block (DequantizeLinear's rule). */
export function dequantizeLinearValues(
  x: TensorInit,
  scale: TensorInit,
  zero: TensorInit | null,
  axisAttribute: number,
  blockSize: number,
): Float32Array {
  if (!INTEGER_TYPES.has(x.dataType)) refuse(`x '${x.name}' is ${DataType[x.dataType]} (8, 16 or 32-bit integers)`);
  const q = numbers(x);
  const s = numbers(scale);
  const z = zero ? numbers(zero) : null;
  if (z && z.length !== s.length) refuse(`zero point '${zero!.name}' and scale '${scale.name}' differ in size`);
  const dims = x.dims;
  const rank = dims.length;
  const out = new Float32Array(q.length);
  if (s.length === 1 && blockSize === 0) {
    for (let i = 0; i < q.length; i++) out[i] = (q[i]! - (z ? z[0]! : 0)) * s[0]!;
    return out;
  }
  const axis = axisAttribute < 0 ? axisAttribute + rank : axisAttribute;
  if (axis < 0 || axis >= rank) refuse(`axis ${axisAttribute} is outside x's rank ${rank}`);
  const inner = size(dims.slice(axis + 1));
  const along = dims[axis]!;
  if (blockSize === 0) {
    if (s.length !== along)
      refuse(`scale '${scale.name}' has ${s.length} values, not x's dimension ${axis} (${along})`);
    for (let i = 0; i < q.length; i++) {
      const c = Math.floor(i / inner) % along;
      out[i] = (q[i]! - (z ? z[c]! : 0)) * s[c]!;
    }
    return out;
  }
  // Blocked (opset 21): scale has x's shape with dimension `axis` shrunk to ceil(along / block_size).
  const blocks = Math.ceil(along / blockSize);
  if (scale.dims.length !== rank || s.length !== (q.length / along) * blocks)
    refuse(`scale '${scale.name}' is not x's shape with dimension ${axis} of ${blocks} blocks`);
  for (let i = 0; i < q.length; i++) {
    const outer = Math.floor(i / (inner * along));
    const c = Math.floor(i / inner) % along;
    const j = (outer * blocks + Math.floor(c / blockSize)) * inner + (i % inner);
    out[i] = (q[i]! - (z ? z[j]! : 0)) * s[j]!;
  }
  return out;
}

function dequantizeLinear(ctx: Context, node: Node): Rewrite {
  const axis = intAttribute(node, 'axis', 1);
  const block = intAttribute(node, 'block_size', 0);
  const scale = constant(ctx, node.inputs[1], 'scale');
  const zero = optionalConstant(ctx, node.inputs[2], 'zero point');
  const source = ctx.producers.get(node.inputs[0] ?? '');
  if (!ctx.constants.has(node.inputs[0] ?? '') && source?.opType === 'Gather') {
    // quantize_dynamic's embedding: Gather on the quantized table, then DequantizeLinear per tensor.
    const table = constant(ctx, source.inputs[0], 'quantized table');
    if (size(scale.dims) !== 1) refuse(`a Gather's output is dequantized per axis ('${scale.name}')`);
    if ((ctx.consumers.get(source.outputs[0]!) ?? []).length !== 1) refuse(`Gather "${source.name}" has other readers`);
    const name = table.name.replace(/_quantized$/, '') + (table.name.endsWith('_quantized') ? '' : '_dequantized');
    const data = dequantizeLinearValues(table, scale, zero, axis, 0);
    const gather: Node = { ...source, inputs: [name, ...source.inputs.slice(1)], outputs: node.outputs };
    const initializers = [{ name, dataType: DataType.FLOAT, dims: table.dims, data }];
    return { nodes: [gather], initializers, removed: [source], label: 'Gather + DequantizeLinear 8-bit' };
  }
  const x = constant(ctx, node.inputs[0], 'input x');
  const data = dequantizeLinearValues(x, scale, zero, axis, block);
  const initializers = [{ name: node.outputs[0]!, dataType: DataType.FLOAT, dims: x.dims, data }];
  return { nodes: [], initializers, removed: [], label: 'DequantizeLinear' };
}

function isQuantized(node: Node): boolean {
  return QUANTIZED_OPS.has(node.opType);
}

function hasQuantizedOp(graph: Graph): boolean {
  return graph.nodes.some(
    (n) => isQuantized(n) || Object.values(n.attributes).some((a) => a.type === 'graph' && hasQuantizedOp(a.value)),
  );
}

function context(graph: Graph): Context {
  const constants = new Map(graph.initializers);
  const producers = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const node of graph.nodes) {
    for (const output of node.outputs) if (output) producers.set(output, node);
    for (const input of node.inputs) if (input) consumers.set(input, [...(consumers.get(input) ?? []), node]);
    const value = node.attributes.value;
    if (node.opType === 'Constant' && value?.type === 'tensor') constants.set(node.outputs[0]!, value.value);
  }
  return { graph, constants, producers, consumers };
}

/** The model with every quantized linear layer dequantized (the same model when it has none); refusals name nodes. */
export function dequantizeModel(model: Model): Model {
  if (!hasQuantizedOp(model.graph)) return model;
  const graph = model.graph;
  const ctx = context(graph);
  const replaced = new Map<Node, Node[]>();
  const dead = new Set<Node>();
  const added: TensorInit[] = [];
  const taken = new Set<string>();
  const counts = new Map<string, number>();
  for (const node of graph.nodes) {
    const rule =
      node.opType === 'MatMulNBits'
        ? matMulNBits
        : node.opType === 'MatMulInteger'
          ? matMulInteger
          : node.opType === 'DequantizeLinear'
            ? dequantizeLinear
            : null;
    if (!rule) continue;
    try {
      const rewrite = rule(ctx, node, taken);
      replaced.set(node, rewrite.nodes);
      for (const r of rewrite.removed) dead.add(r);
      added.push(...rewrite.initializers);
      counts.set(rewrite.label, (counts.get(rewrite.label) ?? 0) + 1);
    } catch (error) {
      if (error instanceof Refusal) throw new DequantizeError(node, error.message);
      throw error;
    }
  }
  const remade = new Set([...[...replaced.values()].flat().flatMap((n) => n.outputs), ...added.map((t) => t.name)]);
  const stays = (n: Node) => !dead.has(n) || isShared(n, ctx, dead, remade);
  const nodes = graph.nodes.flatMap((n) => replaced.get(n) ?? (stays(n) ? [n] : []));
  for (const node of nodes) if (isQuantized(node)) throw new DequantizeError(node, 'this quantized op is not handled');
  for (const node of nodes) {
    for (const attribute of Object.values(node.attributes)) {
      if (attribute.type === 'graph' && hasQuantizedOp(attribute.value))
        throw new DequantizeError(node, 'its subgraph holds quantized ops, which are not handled');
    }
  }
  // Drop the quantized tensors (codes, scales, zero points) that only the rewritten nodes read.
  const kept = new Set(nodes);
  const gone = new Set(graph.nodes.filter((n) => !kept.has(n)).flatMap((n) => n.inputs));
  const read = new Set([...nodes.flatMap((n) => n.inputs), ...graph.outputs.map((o) => o.name)]);
  const initializers = new Map<string, TensorInit>();
  for (const [name, tensor] of graph.initializers)
    if (read.has(name) || !gone.has(name)) initializers.set(name, tensor);
  for (const tensor of added) initializers.set(tensor.name, tensor);
  const produced = new Set(nodes.flatMap((n) => n.outputs));
  const valueInfo = graph.valueInfo.filter((v) => produced.has(v.name) || initializers.has(v.name));
  const label = [...counts].map(([what, count]) => `${what} × ${count}`).join(', ');
  return {
    ...model,
    metadata: { ...model.metadata, [DEQUANTIZED_KEY]: label },
    graph: { ...graph, nodes, initializers, valueInfo },
  };
}

/** Whether a node the rewrite made dead still feeds a node that stays (then it stays too). */
function isShared(node: Node, ctx: Context, dead: ReadonlySet<Node>, remade: ReadonlySet<string>): boolean {
  return node.outputs.some(
    (o) =>
      !remade.has(o) &&
      (ctx.graph.outputs.some((g) => g.name === o) ||
        (ctx.consumers.get(o) ?? []).some((c) => !dead.has(c) && !isRewritten(c))),
  );
}

function isRewritten(node: Node): boolean {
  return node.opType === 'MatMulInteger' || node.opType === 'MatMulNBits' || node.opType === 'DequantizeLinear';
}
