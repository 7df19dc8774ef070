import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/store/safetensors';
import { tensorFromArray, tensorToArray } from '../../src/store/tensor-values';
import { fixturePath } from '../helpers/fixtures';

test('tensors read from a Node Buffer (pooled, non-zero byteOffset) decode to their own values', () => {
  const values = Float64Array.from([1.5, -2.25, 3e-300, 7]);
  const bytes = writeSafetensors({
    w: tensorFromArray('F64', [2, 2], values),
    b: tensorFromArray('F32', [1], Float32Array.of(9)),
  });
  // Buffer.from(arrayBuffer-copy) of a small file lands in Node's shared pool at an offset, as readFileSync's does.
  const pooled = Buffer.concat([Buffer.from('padding'), Buffer.from(bytes)]).subarray(7);
  expect(pooled.byteOffset).not.toBe(0);
  const file = readSafetensors(pooled);
  expect(Array.from(tensorToArray(file.tensors.get('w')!) as Float64Array)).toEqual(Array.from(values));
  expect(Array.from(tensorToArray(file.tensors.get('b')!) as Float32Array)).toEqual([9]);
});

test('the kronfluence fixture weights read straight from readFileSync', () => {
  const file = readSafetensors(readFileSync(fixturePath('kronfluence/mlp_classifier/model.safetensors')));
  const fc1 = tensorToArray(file.tensors.get('fc1.weight')!) as Float64Array;
  const fc3 = tensorToArray(file.tensors.get('fc3.bias')!) as Float64Array;
  expect(fc1.length).toBe(16 * 6);
  expect(fc3.length).toBe(3);
  // Different tensors must not decode to the same bytes (the pooled-Buffer bug made every tensor identical).
  expect(Array.from(fc1.subarray(0, 3))).not.toEqual(Array.from(fc3));
  expect(fc1.every((v) => Number.isFinite(v) && Math.abs(v) < 10)).toBe(true);
});
