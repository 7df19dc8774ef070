/**
 * Between raw safetensors bytes and typed arrays. Typed arrays use the platform's byte order; every platform a
 * browser or Node runs on is little-endian, as safetensors is, and we refuse to run silently wrong elsewhere.
 */
import { bfloat16ToFloat, halfToFloat } from '../core/half-float';
import type { Dtype, SafetensorsTensor } from './safetensors';
import { DTYPE_BYTES, SafetensorsError, elementCount } from './safetensors';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new SafetensorsError('this platform is big-endian; safetensors tensors are little-endian');
}

export type TypedValues =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** Which typed array holds a dtype's raw values (16-bit and 8-bit floats as their bit patterns). */
function typedArrayFor(dtype: Dtype, buffer: ArrayBuffer, offset: number, length: number): TypedValues {
  switch (dtype) {
    case 'F64':
      return new Float64Array(buffer, offset, length);
    case 'F32':
      return new Float32Array(buffer, offset, length);
    case 'I64':
      return new BigInt64Array(buffer, offset, length);
    case 'U64':
      return new BigUint64Array(buffer, offset, length);
    case 'I32':
      return new Int32Array(buffer, offset, length);
    case 'U32':
      return new Uint32Array(buffer, offset, length);
    case 'I16':
      return new Int16Array(buffer, offset, length);
    case 'U16':
    case 'F16':
    case 'BF16':
      return new Uint16Array(buffer, offset, length);
    case 'I8':
      return new Int8Array(buffer, offset, length);
    case 'U8':
    case 'BOOL':
    case 'F8_E4M3':
    case 'F8_E5M2':
      return new Uint8Array(buffer, offset, length);
  }
}

/** The tensor's values as a freshly allocated (aligned) typed array; F16/BF16/F8 come back as raw bits. */
export function tensorToArray(tensor: SafetensorsTensor): TypedValues {
  requireLittleEndian();
  // new Uint8Array(x) always copies into a fresh ArrayBuffer at offset 0; a Node Buffer's slice() is a view into a
  // shared pool.
  const copy = new Uint8Array(tensor.data);
  return typedArrayFor(tensor.dtype, copy.buffer, 0, copy.byteLength / DTYPE_BYTES[tensor.dtype]);
}

/** A tensor holding a copy of `values` (whose typed array kind must match the dtype; raw bits for F16/BF16/F8). */
export function tensorFromArray(dtype: Dtype, shape: readonly number[], values: TypedValues): SafetensorsTensor {
  requireLittleEndian();
  const count = elementCount(shape);
  if (values.length !== count) {
    throw new SafetensorsError(
      `${dtype} tensor of shape [${shape.join(', ')}] needs ${count} values, got ${values.length}`,
    );
  }
  if (values.BYTES_PER_ELEMENT !== DTYPE_BYTES[dtype]) {
    throw new SafetensorsError(`${dtype} needs ${DTYPE_BYTES[dtype]}-byte elements, got a ${values.constructor.name}`);
  }
  const data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  return { dtype, shape: [...shape], data };
}

function float8E4M3ToNumber(bits: number): number {
  const sign = bits & 0x80 ? -1 : 1;
  const exponent = (bits >> 3) & 0xf;
  const fraction = bits & 0x7;
  if (exponent === 0xf && fraction === 0x7) return NaN; // E4M3FN: no infinities, one NaN pattern
  if (exponent === 0) return sign * fraction * 2 ** -9;
  return sign * (1 + fraction / 8) * 2 ** (exponent - 7);
}

function float8E5M2ToNumber(bits: number): number {
  return halfToFloat(bits << 8);
}

/**
 * The tensor's values as float64 (a numeric conversion). 64-bit integers beyond ±2^53 cannot be represented and
 * are refused rather than rounded.
 */
export function tensorToFloat64(tensor: SafetensorsTensor, name = 'tensor'): Float64Array {
  const raw = tensorToArray(tensor);
  if (raw instanceof Float64Array) return raw;
  const out = new Float64Array(raw.length);
  const decode =
    tensor.dtype === 'F16'
      ? halfToFloat
      : tensor.dtype === 'BF16'
        ? bfloat16ToFloat
        : tensor.dtype === 'F8_E4M3'
          ? float8E4M3ToNumber
          : tensor.dtype === 'F8_E5M2'
            ? float8E5M2ToNumber
            : null;
  for (let i = 0; i < raw.length; i++) {
    const value = raw[i]!;
    if (typeof value === 'bigint') {
      const asNumber = Number(value);
      if (!Number.isSafeInteger(asNumber))
        throw new SafetensorsError(`${name}[${i}] = ${value} does not fit a float64 exactly`);
      out[i] = asNumber;
    } else {
      out[i] = decode ? decode(value) : value;
    }
  }
  return out;
}

/** A float64 or float32 tensor from numbers. */
export function floatTensor(
  shape: readonly number[],
  values: ArrayLike<number>,
  dtype: 'F64' | 'F32' = 'F64',
): SafetensorsTensor {
  const typed = dtype === 'F64' ? Float64Array.from(values) : Float32Array.from(values);
  return tensorFromArray(dtype, shape, typed);
}
