import { afterAll, beforeAll, expect, test } from 'vitest';
import { openPage, servePage, type Served } from '../helpers/browser';

let served: Served;
beforeAll(async () => {
  served = await servePage();
});
afterAll(async () => {
  await served?.close();
});

test('the page shows the WebGPU adapter the engine worker got, and flags SwiftShader as software', async () => {
  const { page, errors } = await openPage(served);
  const status = page.locator('gpu-status span[data-state]:not([data-state="probing"])');
  await status.waitFor({ timeout: 60_000 });
  expect(await status.getAttribute('data-state')).toBe('software');
  const adapter = (await page.locator('gpu-status code[data-adapter]').textContent()) ?? '';
  expect(adapter.toLowerCase()).toContain('swiftshader');
  expect(errors).toEqual([]);
});
