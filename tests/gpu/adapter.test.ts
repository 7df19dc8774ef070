import { expect, test } from 'vitest';
import { testGpu } from '../helpers/gpu';

test('Dawn in Node gets an adapter and a device with the limits it asked for', async () => {
  const { device, report } = await testGpu();
  expect(report.name.length).toBeGreaterThan(0);
  expect(device.limits.maxStorageBufferBindingSize).toBe(report.limits.maxStorageBufferBindingSize);
  expect(device.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
});
