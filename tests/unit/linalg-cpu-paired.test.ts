import { expect, test } from 'vitest';
import { CpuBackend } from '../../src/linalg/cpu/backend';

test('pairedInner sums a∘c over every axis but the first, per row; shapes must match', async () => {
  const cpu = new CpuBackend();
  const a = cpu.upload([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]);
  const c = cpu.upload([1, 0, 1, 0, 1, 0, 2, 2, 2, 2, 2, 2], [2, 2, 3]);
  expect(Array.from(await cpu.read(cpu.pairedInner(a, c)))).toEqual([1 + 3 + 5, 2 * (7 + 8 + 9 + 10 + 11 + 12)]);
  expect(() => cpu.pairedInner(a, cpu.upload([1, 2], [2, 1]))).toThrow(
    /pairedInner: a is \[2, 2, 3\] and c is \[2, 1\]/,
  );
});
