/**
 * What a causal language model's graph asks for, and the values to feed it for one right-padded batch of whole
 * sequences (no cache). Exporters differ: torch.onnx of a plain model takes `input_ids` (and `attention_mask`);
 * Hugging Face Optimum's text-generation exports also take `position_ids`, and with past key values
 * `past_key_values.N.key/value` [batch, heads, past, head_dim] (fed empty: past = 0) and `attention_mask` over
 * past + current tokens (= current tokens). Outputs such as `present.N.*` are computed and ignored.
 */
import { DataType, type ValueInfo } from './ir';
import type { HostTensor } from './runtime';

export type SequenceInputRole = 'ids' | 'mask' | 'positions' | 'past' | 'token-types';

const ROLES: readonly [RegExp, SequenceInputRole][] = [
  [/^input_ids$/, 'ids'],
  [/^attention_mask$/, 'mask'],
  [/^position_ids$/, 'positions'],
  [/^token_type_ids$/, 'token-types'],
  [/^(past_key_values|past_key_value|past)[._]/, 'past'],
];

/** The role of each forward input; an input we cannot fill is refused, naming it and what we can fill. */
export function sequenceInputRoles(inputs: readonly ValueInfo[]): Map<string, SequenceInputRole> {
  const roles = new Map<string, SequenceInputRole>();
  for (const input of inputs) {
    const role = ROLES.find(([pattern]) => pattern.test(input.name))?.[1];
    if (!role) {
      const hint =
        input.name === 'use_cache_branch'
          ? ' (a merged decoder with an If over the cache: export without past key values, or use decoder_model.onnx)'
          : '';
      throw new Error(
        `graph input '${input.name}' is not one the workbench can fill${hint}; it fills input_ids, attention_mask, ` +
          'position_ids, token_type_ids and past_key_values.* (fed empty)',
      );
    }
    roles.set(input.name, role);
  }
  if (![...roles.values()].includes('ids')) {
    throw new Error(`the model has no 'input_ids' input (its inputs: ${inputs.map((i) => i.name).join(', ')})`);
  }
  return roles;
}

function integers(type: DataType, values: BigInt64Array, where: string): HostTensor['data'] {
  if (type === DataType.INT64) return values;
  if (type === DataType.INT32) return Int32Array.from(values, Number);
  throw new Error(`graph input '${where}' has element type ${DataType[type] ?? type}; it must be int64 or int32`);
}

/**
 * Feeds for every forward input from the batch's ids and mask (int64 [B, T], 1 = token): positions count the
 * tokens (cumsum(mask) − 1, 0 on padding, as Hugging Face computes them), token types are 0, past is empty.
 */
export function sequenceFeeds(
  inputs: readonly ValueInfo[],
  ids: BigInt64Array,
  mask: BigInt64Array,
  dims: readonly [number, number],
): Record<string, HostTensor> {
  const [batch, tokens] = dims;
  const roles = sequenceInputRoles(inputs);
  const feeds: Record<string, HostTensor> = {};
  for (const input of inputs) {
    const role = roles.get(input.name)!;
    const tensor = (values: BigInt64Array) => ({ data: integers(input.elemType, values, input.name), dims });
    if (role === 'ids') feeds[input.name] = tensor(ids);
    else if (role === 'mask') feeds[input.name] = tensor(mask);
    else if (role === 'token-types') feeds[input.name] = tensor(new BigInt64Array(batch * tokens));
    else if (role === 'positions') {
      const positions = new BigInt64Array(batch * tokens);
      for (let row = 0; row < batch; row++) {
        let count = 0n;
        for (let t = 0; t < tokens; t++) {
          const at = row * tokens + t;
          if (mask[at] !== 0n) positions[at] = count++;
        }
      }
      feeds[input.name] = tensor(positions);
    } else feeds[input.name] = emptyPast(input, batch);
  }
  return feeds;
}

/** A zero-length cache: [batch, heads, 0, head_dim], the axis named like 'past…' (or the third) set to 0. */
function emptyPast(input: ValueInfo, batch: number): HostTensor {
  const shape = input.shape;
  const at = `graph input '${input.name}'`;
  if (!shape || shape.length < 2) throw new Error(`${at}: a cache input needs a known rank ≥ 2 to be fed empty`);
  const named = shape.findIndex((d) => typeof d === 'string' && /past/i.test(d));
  const pastAxis = named >= 0 ? named : shape.length === 4 ? 2 : shape.length - 2;
  const dims = shape.map((d, axis) => {
    if (axis === pastAxis) return 0;
    if (axis === 0) return batch;
    if (typeof d === 'number') return d;
    throw new Error(`${at}: axis ${axis} ('${d ?? '?'}') has no fixed size, so the empty cache cannot be shaped`);
  });
  if (input.elemType === DataType.FLOAT) return { data: new Float32Array(0), dims };
  if (input.elemType === DataType.DOUBLE) return { data: new Float64Array(0), dims };
  throw new Error(`${at}: element type ${DataType[input.elemType] ?? input.elemType}; caches must be float32/64`);
}
