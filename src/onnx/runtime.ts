/**
 * onnxruntime-web sessions for our graphs: the wasm EP in Node and as the browser's CPU fallback, the WebGPU EP in
 * the browser on the workbench's own GPUDevice (so outputs chosen as GPU outputs stay GPUBuffers our WGSL binds).
 * Which onnxruntime build loads where is src/platform/ort.ts's business.
 */
import type * as Ort from 'onnxruntime-web';
import { isNode } from '../platform';
import { loadOrt, type OrtModule } from '../platform/ort';
import { DataType, type Dim, type Model, type TensorValues, type ValueInfo } from './ir';
import { parseModel, serializeModel } from './protobuf';

type OrtType = Ort.Tensor['type'];

const ORT_TYPE_OF: Partial<Record<DataType, OrtType>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32',
  [DataType.INT16]: 'int16',
  [DataType.INT8]: 'int8',
  [DataType.UINT64]: 'uint64',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT16]: 'uint16',
  [DataType.UINT8]: 'uint8',
  [DataType.BOOL]: 'bool',
};

/** A host tensor: values and dims; its ONNX type is the declared input's (the array class must fit it). */
export interface HostTensor {
  readonly data: TensorValues;
  readonly dims: readonly number[];
}

export type Feed = HostTensor | Ort.Tensor;

export interface SessionOptions {
  /** 'wasm' (default) or 'webgpu' (browser only). */
  readonly backend?: 'wasm' | 'webgpu';
  /** The workbench's GPUDevice, shared with the WebGPU EP. Required for 'webgpu'. */
  readonly device?: GPUDevice;
  /** Outputs to keep on the GPU (arrive with tensor.location 'gpu-buffer' and tensor.gpuBuffer); 'webgpu' only. */
  readonly gpuOutputs?: readonly string[];
}

const ARRAY_FOR: Record<OrtType, string> = {
  float32: 'Float32Array',
  float64: 'Float64Array',
  float16: 'Uint16Array',
  int64: 'BigInt64Array',
  int32: 'Int32Array',
  int16: 'Int16Array',
  int8: 'Int8Array',
  uint64: 'BigUint64Array',
  uint32: 'Uint32Array',
  uint16: 'Uint16Array',
  uint8: 'Uint8Array',
  bool: 'Uint8Array',
  string: 'Array',
  int4: 'Int8Array',
  uint4: 'Uint8Array',
};

function formatShape(shape: readonly Dim[] | null): string {
  return shape ? `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]` : '[unknown rank]';
}

/** One model's inference session; create it once per model and reuse it for every batch. */
export class ModelSession {
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly inputs: readonly ValueInfo[],
    readonly outputs: readonly ValueInfo[],
    readonly backend: 'wasm' | 'webgpu',
  ) {}

  static async create(model: Model | Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
    const ir = model instanceof Uint8Array ? parseModel(model) : model;
    const bytes = model instanceof Uint8Array ? model : serializeModel(model);
    const backend = options.backend ?? 'wasm';
    const ort = await loadOrt();
    const sessionOptions: Ort.InferenceSession.SessionOptions = { executionProviders: ['wasm'] };
    if (backend === 'webgpu') {
      if (isNode)
        throw new Error("backend 'webgpu': onnxruntime-web's WebGPU EP does not run on Dawn in Node; use 'wasm'");
      if (!options.device) throw new Error("backend 'webgpu' needs the workbench's GPUDevice (options.device)");
      sessionOptions.executionProviders = [{ name: 'webgpu', device: options.device }];
      // ORT warns (on console.error) at every session that it placed shape nodes on its CPU EP, as it always does
      // for this EP: expected, documented (docs/evaluation.md), and not an error of the page.
      sessionOptions.logSeverityLevel = 3;
      const known = new Set(ir.graph.outputs.map((o) => o.name));
      const unknown = (options.gpuOutputs ?? []).filter((name) => !known.has(name));
      if (unknown.length > 0)
        throw new Error(`gpuOutputs: the model has no output ${unknown.map((n) => `'${n}'`).join(', ')}`);
      sessionOptions.preferredOutputLocation = Object.fromEntries(
        (options.gpuOutputs ?? []).map((name) => [name, 'gpu-buffer'] as const),
      );
    } else if ((options.gpuOutputs?.length ?? 0) > 0) {
      throw new Error("gpuOutputs needs backend 'webgpu'");
    }
    const session = await ort.InferenceSession.create(bytes, sessionOptions);
    return new ModelSession(ort, session, ir.graph.inputs, ir.graph.outputs, backend);
  }

  /** Runs the model. Every declared input must be fed with its declared type and rank; fixed dims must match. */
  async run(feeds: Readonly<Record<string, Feed>>): Promise<Record<string, Ort.Tensor>> {
    const declared = new Set(this.inputs.map((i) => i.name));
    const extra = Object.keys(feeds).filter((name) => !declared.has(name));
    if (extra.length > 0) {
      throw new Error(
        `unknown input ${extra.map((n) => `'${n}'`).join(', ')}; the model's inputs are ${[...declared].join(', ')}`,
      );
    }
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const input of this.inputs) {
      const feed = feeds[input.name];
      if (!feed)
        throw new Error(`input '${input.name}' (${DataType[input.elemType]} ${formatShape(input.shape)}) is missing`);
      ortFeeds[input.name] = this.toOrtTensor(input, feed);
    }
    return (await this.session.run(ortFeeds)) as Record<string, Ort.Tensor>;
  }

  release(): Promise<void> {
    return this.session.release();
  }

  private toOrtTensor(input: ValueInfo, feed: Feed): Ort.Tensor {
    const type = ORT_TYPE_OF[input.elemType];
    if (!type) throw new Error(`input '${input.name}': element type ${DataType[input.elemType]} is not supported`);
    const at = `input '${input.name}' (declared ${type} ${formatShape(input.shape)})`;
    const dims = feed.dims;
    if (input.shape) {
      if (dims.length !== input.shape.length)
        throw new Error(`${at}: fed a tensor of rank ${dims.length}, dims [${dims}]`);
      input.shape.forEach((d, axis) => {
        if (typeof d === 'number' && dims[axis] !== d)
          throw new Error(`${at}: axis ${axis} is ${dims[axis]}, the model fixes it to ${d}`);
      });
    }
    if (feed instanceof this.ort.Tensor) {
      if (feed.type !== type) throw new Error(`${at}: fed a ${feed.type} tensor`);
      return feed;
    }
    const host = feed as HostTensor;
    const expected = ARRAY_FOR[type];
    if (host.data.constructor.name !== expected)
      throw new Error(`${at}: fed a ${host.data.constructor.name}, ${type} needs a ${expected}`);
    const count = dims.reduce((a, b) => a * b, 1);
    if (host.data.length !== count) throw new Error(`${at}: ${host.data.length} values for dims [${dims}]`);
    return new this.ort.Tensor(type, host.data as Ort.Tensor.DataTypeMap[typeof type], dims);
  }
}

/** Sessions by key (e.g. a model's content hash and role): each is created once and shared by all later calls. */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<ModelSession>>();

  get(key: string, model: () => Model | Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
    let session = this.sessions.get(key);
    if (!session) {
      session = ModelSession.create(model(), options);
      session.catch(() => this.sessions.delete(key)); // a failed creation may be retried
      this.sessions.set(key, session);
    }
    return session;
  }

  async releaseAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s).release()));
  }
}

/** A right-padded batch of token sequences with its attention mask, as int64 host tensors [batch, length]. */
export interface PaddedBatch {
  readonly inputIds: HostTensor;
  readonly attentionMask: HostTensor;
  /** The unpadded length of each sequence. */
  readonly lengths: readonly number[];
}

/** Right-pads sequences to a common length (the longest, or `length`) with `padId`; mask 1 on tokens, 0 on padding. */
export function padBatch(sequences: readonly (readonly number[])[], padId = 0, length?: number): PaddedBatch {
  if (sequences.length === 0) throw new Error('padBatch: no sequences');
  const lengths = sequences.map((s) => s.length);
  const width = length ?? Math.max(...lengths);
  const tooLong = lengths.findIndex((l) => l > width);
  if (tooLong >= 0)
    throw new Error(`padBatch: sequence ${tooLong} has ${lengths[tooLong]} tokens, more than the length ${width}`);
  if (width === 0) throw new Error('padBatch: every sequence is empty');
  const ids = new BigInt64Array(sequences.length * width).fill(BigInt(padId));
  const mask = new BigInt64Array(sequences.length * width);
  sequences.forEach((sequence, row) => {
    sequence.forEach((token, t) => {
      if (!Number.isInteger(token) || token < 0)
        throw new Error(`padBatch: sequence ${row}, position ${t}: token ${token} is not a non-negative integer`);
      ids[row * width + t] = BigInt(token);
      mask[row * width + t] = 1n;
    });
  });
  const dims = [sequences.length, width];
  return { inputIds: { data: ids, dims }, attentionMask: { data: mask, dims }, lengths };
}
