/**
 * A generated corpus of corrupted bundles: truncation at every byte of a small bundle's header (and a sample of the
 * data section), and seeded random byte flips. Each must throw BundleError or decode to exactly the original bundle
 * (a flip in JSON whitespace changes nothing) — never another exception, never a different bundle. A hang would
 * fail on the test's timeout; no wall-clock bound is asserted (the machine's speed is not under test).
 */
import { describe, expect, it } from 'vitest';
import { BundleError, decodeBundle, encodeBundle, type Bundle } from '../../src/store/bundle';
import { sampleContent, seededRandom } from '../fixtures/store/sample-bundle';

async function outcome(bytes: Uint8Array, original: Bundle): Promise<'valid' | 'BundleError'> {
  try {
    const bundle = await decodeBundle(bytes);
    expect(bundle).toEqual(original);
    return 'valid';
  } catch (error) {
    if (error instanceof BundleError) return 'BundleError';
    throw new Error(`not a BundleError: ${String(error)}`, { cause: error });
  }
}

describe('corrupted bundle corpus', () => {
  const smallContent = sampleContent({ queries: 2, train: 3, dims: [[2, 2]] });

  it('truncation at every byte of the header, and every 7th byte of the data, is a BundleError', async () => {
    const bytes = await encodeBundle(smallContent);
    const original = await decodeBundle(bytes);
    const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const cuts = [...Array(headerEnd + 1).keys()];
    for (let cut = headerEnd + 1; cut < bytes.length; cut += 7) cuts.push(cut);
    for (const cut of cuts)
      expect(await outcome(bytes.subarray(0, cut), original), `cut at ${cut}`).toBe('BundleError');
    expect(cuts.length).toBeGreaterThan(1000);
  });

  it('seeded random byte flips: the original bundle or a BundleError, every time', async () => {
    const bytes = await encodeBundle(smallContent);
    const original = await decodeBundle(bytes);
    const random = seededRandom(20261128);
    const counts = { valid: 0, BundleError: 0 };
    for (let trial = 0; trial < 1500; trial++) {
      const corrupted = bytes.slice();
      const flips = 1 + Math.floor(random() * 3);
      for (let f = 0; f < flips; f++) {
        corrupted[Math.floor(random() * corrupted.length)] ^= 1 + Math.floor(random() * 255);
      }
      counts[await outcome(corrupted, original)]++;
    }
    // Almost every flip is caught (checksums cover tensors and manifest); the few that are not land in JSON whitespace.
    expect(counts.BundleError).toBeGreaterThan(1400);
  });

  it('flips in the 8-byte length prefix, including lengths near 2^64, are refused before allocation', async () => {
    const bytes = await encodeBundle(smallContent);
    const original = await decodeBundle(bytes);
    for (let position = 0; position < 8; position++) {
      for (const value of [0x00, 0x7f, 0xff]) {
        const corrupted = bytes.slice();
        if (corrupted[position] === value) continue;
        corrupted[position] = value;
        expect(await outcome(corrupted, original), `byte ${position} = ${value}`).toBe('BundleError');
      }
    }
  });
});
