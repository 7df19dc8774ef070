import { describe, expect, it } from 'vitest';
import {
  DTYPE_BYTES,
  MAX_HEADER_BYTES,
  SafetensorsError,
  readSafetensors,
  writeSafetensors,
  type Dtype,
} from '../../src/store/safetensors';
import { tensorFromArray, tensorToArray, tensorToFloat64 } from '../../src/store/tensor-values';
import { readFixture } from '../helpers/fixtures';

const fixture = (path: string) => new Uint8Array(readFixture(`kronfluence/${path}`));

/** A file from a header (object or literal text) and a data section, with an optional forged length prefix. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), forgedLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, forgedLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (name: string, begin: number, end: number, shape = [(end - begin) / 4]) => ({
  [name]: { dtype: 'F32', shape, data_offsets: [begin, end] },
});

describe('reading files kronfluence wrote', () => {
  it('reads a model: names, dtypes, shapes, values', () => {
    const { tensors, metadata } = readSafetensors(fixture('mlp_classifier/model.safetensors'));
    expect([...tensors.keys()].sort()).toEqual([
      'fc1.bias',
      'fc1.weight',
      'fc2.bias',
      'fc2.weight',
      'fc3.bias',
      'fc3.weight',
    ]);
    expect(tensors.get('fc1.weight')).toMatchObject({ dtype: 'F64', shape: [16, 6] });
    expect(tensors.get('fc3.bias')!.data.byteLength).toBe(24);
    expect(metadata).toEqual({});
  });

  it('reads scores and counts with the values Python reads', () => {
    const scores = readSafetensors(
      fixture('mlp_classifier/kronfluence/mlp_classifier/scores_pairwise/pairwise_scores.safetensors'),
    );
    const all = scores.tensors.get('all_modules')!;
    expect(all.shape).toEqual([8, 64]);
    const values = tensorToFloat64(all);
    // Read independently with Python's struct.unpack('<512d').
    expect([values[0], values[1], values[64], values[511]]).toEqual([
      -84.96212910529198, -231.3279387170056, 1.7328079507628584, 442.27998210454786,
    ]);
    expect(scores.metadata.damping_factor).toBe('None');
    const counts = readSafetensors(
      fixture('token_lm/kronfluence/token_lm/factors_ekfac/num_activation_covariance_processed.safetensors'),
    );
    expect(tensorToArray(counts.tensors.get('up')!)).toEqual(new BigInt64Array([274n]));
    expect(tensorToFloat64(counts.tensors.get('down')!)).toEqual(new Float64Array([274]));
  });

  it('re-encodes a kronfluence file with byte-equal tensors and metadata', () => {
    const original = readSafetensors(fixture('token_lm/kronfluence/token_lm/factors_ekfac/lambda_matrix.safetensors'));
    const again = readSafetensors(writeSafetensors(original.tensors, original.metadata));
    expect(again.metadata).toEqual(original.metadata);
    for (const [name, tensor] of original.tensors) {
      expect(again.tensors.get(name)).toEqual(tensor);
    }
  });
});

describe('writing', () => {
  it('round-trips every dtype, aligned, with the header padded to 8 bytes', () => {
    const samples: Record<Dtype, ArrayLike<number> | bigint[]> = {
      F64: [1.5, -2e300],
      F32: [3.25, -0],
      F16: [0x3c00, 0xc000],
      BF16: [0x3f80, 0x7f80],
      I64: [-(2n ** 62n), 7n],
      I32: [-5, 2 ** 31 - 1],
      I16: [-300, 300],
      I8: [-128, 127],
      U64: [2n ** 63n, 1n],
      U32: [2 ** 32 - 1, 0],
      U16: [65535, 1],
      U8: [255, 0],
      BOOL: [1, 0],
      F8_E4M3: [0x38, 0x7f],
      F8_E5M2: [0x3c, 0x7c],
    };
    const arrays: Record<Dtype, (v: never) => Parameters<typeof tensorFromArray>[2]> = {
      F64: (v) => Float64Array.from(v),
      F32: (v) => Float32Array.from(v),
      F16: (v) => Uint16Array.from(v),
      BF16: (v) => Uint16Array.from(v),
      I64: (v) => BigInt64Array.from(v),
      I32: (v) => Int32Array.from(v),
      I16: (v) => Int16Array.from(v),
      I8: (v) => Int8Array.from(v),
      U64: (v) => BigUint64Array.from(v),
      U32: (v) => Uint32Array.from(v),
      U16: (v) => Uint16Array.from(v),
      U8: (v) => Uint8Array.from(v),
      BOOL: (v) => Uint8Array.from(v),
      F8_E4M3: (v) => Uint8Array.from(v),
      F8_E5M2: (v) => Uint8Array.from(v),
    };
    const tensors = new Map(
      Object.keys(samples).map((dtype) => {
        const d = dtype as Dtype;
        return [`t_${d}`, tensorFromArray(d, [2], arrays[d](samples[d] as never))];
      }),
    );
    const bytes = writeSafetensors(tensors, { note: 'hello "world"' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const decoded = readSafetensors(bytes);
    expect(decoded.metadata).toEqual({ note: 'hello "world"' });
    for (const [name, tensor] of tensors) {
      const back = decoded.tensors.get(name)!;
      expect(back).toEqual(tensor);
      expect(back.data.byteOffset % DTYPE_BYTES[back.dtype]).toBe(0);
    }
  });

  it('decodes half, bfloat16 and float8 to float64', () => {
    const half = tensorFromArray('F16', [5], Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001]));
    expect([...tensorToFloat64(half)]).toEqual([1, -2, 65504, Infinity, 2 ** -24]);
    const bf16 = tensorFromArray('BF16', [2], Uint16Array.from([0x3f80, 0xc0a0]));
    expect([...tensorToFloat64(bf16)]).toEqual([1, -5]);
    const e4m3 = tensorFromArray('F8_E4M3', [3], Uint8Array.from([0x38, 0x7e, 0x7f]));
    expect([...tensorToFloat64(e4m3)]).toEqual([1, 448, NaN]);
  });

  it('refuses data that does not match its shape and a reserved name', () => {
    expect(() => writeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Uint8Array(8) } })).toThrow(
      /needs 12 bytes, data has 8/,
    );
    expect(() => writeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(
      /reserved/,
    );
  });
});

describe('bad input gives a SafetensorsError naming the problem', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty file', new Uint8Array(0), /truncated file: 0 bytes/],
    ['truncated prefix', new Uint8Array(5), /truncated file: 5 bytes/],
    [
      'header length beyond the file',
      rawFile(f32('x', 0, 4), new Uint8Array(4), 500n),
      /header length 500 runs beyond the file/,
    ],
    [
      'header over 100 MB',
      rawFile({}, new Uint8Array(0), BigInt(MAX_HEADER_BYTES + 1)),
      /over the 100000000-byte limit/,
    ],
    ['header length near 2^64', rawFile({}, new Uint8Array(0), 2n ** 64n - 1n), /over the 100000000-byte limit/],
    ['invalid JSON', rawFile('{"x": {"dtype": "F32",'), /not valid JSON/],
    ['not an object', rawFile('[1, 2]   '), /must start with '\{'/],
    ['invalid UTF-8', rawFile('{"\u00e9": 1}').map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8/],
    [
      'unknown dtype',
      rawFile({ x: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)),
      /tensor 'x': unknown dtype "F128"/,
    ],
    [
      'bad shape',
      rawFile({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)),
      /tensor 'x': shape \[-1\]/,
    ],
    [
      'shape and byte length mismatch',
      rawFile(f32('x', 0, 8, [3]), new Uint8Array(8)),
      /tensor 'x': shape \[3\] × F32 \(4 bytes\) needs 12 bytes, but data_offsets \[0, 8\] hold 8/,
    ],
    [
      'offsets reversed',
      rawFile({ x: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)),
      /data_offsets \[4, 0\] end before they begin/,
    ],
    [
      'overlap',
      rawFile({ ...f32('a', 0, 8), ...f32('b', 4, 12) }, new Uint8Array(12)),
      /'b' data_offsets \[4, 12\] overlap tensor 'a' \[0, 8\]/,
    ],
    [
      'hole',
      rawFile({ ...f32('a', 0, 4), ...f32('b', 8, 12) }, new Uint8Array(12)),
      /hole .* 'a' ends at 4 .* 'b' begins at 8/,
    ],
    ['first tensor not at 0', rawFile(f32('a', 4, 8), new Uint8Array(8)), /first tensor 'a' begins at 4/],
    [
      'out of range',
      rawFile(f32('a', 0, 16), new Uint8Array(8)),
      /'a' data_offsets \[0, 16\] run beyond the data section \(8 bytes/,
    ],
    ['trailing bytes', rawFile(f32('a', 0, 4), new Uint8Array(12)), /12 bytes but the tensors cover only 4/],
    ['metadata not strings', rawFile({ __metadata__: { n: 3 } }), /__metadata__.n must be a string/],
  ];
  it.each(cases)('%s', (_label, bytes, message) => {
    let caught: unknown;
    try {
      readSafetensors(bytes, { source: 'bad.safetensors' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SafetensorsError);
    expect((caught as Error).message).toMatch(/^bad\.safetensors: /);
    expect((caught as Error).message).toMatch(message);
  });

  it('accepts zero-sized tensors and an empty file', () => {
    const file = readSafetensors(
      rawFile({ e: { dtype: 'F64', shape: [0, 3], data_offsets: [0, 0] }, ...f32('a', 0, 4) }, new Uint8Array(4)),
    );
    expect(file.tensors.get('e')!.data.byteLength).toBe(0);
    expect(readSafetensors(writeSafetensors({})).tensors.size).toBe(0);
  });
});
