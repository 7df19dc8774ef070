/**
 * Labels for the gradient graphs: sampled labels are reproducible for a seed, independent of batching, and follow
 * the model's predictive distribution (a chi-square test with a fixed seed, so it cannot flake); next-token targets
 * mask the prompt, the last token and padding.
 */
import { describe, expect, it } from 'vitest';
import { counterUniform, nextTokenTargets, sampleLabels, sampleRegressionTargets } from '../../src/onnx/gradient-graph';

const vocab = 5;
const logitsRow = [0.3, -1.2, 2.0, 0.0, 1.1];

function repeatedLogits(rows: number, positions: number): Float64Array {
  return Float64Array.from({ length: rows * positions * vocab }, (_, k) => logitsRow[k % vocab]);
}

describe('sampleLabels', () => {
  it('is reproducible for a seed and changes with the seed', () => {
    const logits = repeatedLogits(3, 40);
    const first = sampleLabels({ logits, dims: [3, 40, vocab], seed: 42 });
    expect(sampleLabels({ logits, dims: [3, 40, vocab], seed: 42 })).toEqual(first);
    expect(sampleLabels({ logits, dims: [3, 40, vocab], seed: 43 })).not.toEqual(first);
  });

  it('gives an example the same labels whatever batch, row or padding it is sampled in (row keys)', () => {
    const rowLogits = Float64Array.from({ length: 6 * vocab }, (_, k) => Math.sin(k * 1.7) * 3);
    const alone = sampleLabels({ logits: rowLogits, dims: [1, 6, vocab], seed: 9, rowKeys: [17] });
    const batch = new Float64Array(2 * 8 * vocab);
    batch.set(rowLogits, 8 * vocab); // row 1 of a batch padded to 8 positions
    const mask = [...new Array(8).fill(1), 1, 1, 1, 1, 1, 1, 0, 0];
    const inBatch = sampleLabels({ logits: batch, dims: [2, 8, vocab], seed: 9, rowKeys: [3, 17], mask });
    expect(Array.from(inBatch.slice(8, 14))).toEqual(Array.from(alone));
    expect(Array.from(inBatch.slice(14))).toEqual([0n, 0n]);
  });

  it('follows softmax(logits): chi-square over 20 000 draws below the 0.1% critical value', () => {
    const positions = 20_000;
    const labels = sampleLabels({ logits: repeatedLogits(1, positions), dims: [1, positions, vocab], seed: 2024 });
    const counts = new Array<number>(vocab).fill(0);
    for (const label of labels) counts[Number(label)]++;
    const total = logitsRow.reduce((s, x) => s + Math.exp(x), 0);
    const chiSquare = counts.reduce((s, count, k) => {
      const expected = (positions * Math.exp(logitsRow[k])) / total;
      return s + (count - expected) ** 2 / expected;
    }, 0);
    expect(chiSquare).toBeLessThan(18.47); // χ²(4 degrees of freedom) at p = 0.001
    // A sampler that ignored the logits (uniform labels) would fail the same test by a wide margin.
    const uniformChiSquare = counts.reduce((s, _, k) => {
      const expected = (positions * Math.exp(logitsRow[k])) / total;
      return s + (positions / vocab - expected) ** 2 / expected;
    }, 0);
    expect(uniformChiSquare).toBeGreaterThan(1000);
  });

  it('draws uniforms in [0, 1) with mean ½ and variance 1/12', () => {
    const draws = Array.from({ length: 10_000 }, (_, k) => counterUniform(5, k >> 7, k & 127));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    const mean = draws.reduce((s, u) => s + u, 0) / draws.length;
    const variance = draws.reduce((s, u) => s + (u - mean) ** 2, 0) / draws.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.003);
  });

  it('names bad input', () => {
    expect(() => sampleLabels({ logits: new Float32Array(9), dims: [1, 2, 5], seed: 1 })).toThrow(
      'logits has 9 values, dims [1, 2, 5] need 10',
    );
    expect(() => sampleLabels({ logits: new Float32Array([NaN, 1]), dims: [1, 1, 2], seed: 1 })).toThrow(
      'non-finite logits at row 0, position 0',
    );
  });
});

describe('sampleRegressionTargets', () => {
  it('draws t ~ N(y, ½) per output, reproducibly and independently of the batch', () => {
    const rows = 4000;
    const outputs = Float64Array.from({ length: rows * 2 }, (_, k) => (k % 2 === 0 ? 1.5 : -3));
    const targets = sampleRegressionTargets({ outputs, rows, seed: 77 });
    expect(sampleRegressionTargets({ outputs, rows, seed: 77 })).toEqual(targets);
    for (const column of [0, 1]) {
      const residuals = Array.from({ length: rows }, (_, r) => targets[r * 2 + column] - outputs[r * 2 + column]);
      const mean = residuals.reduce((s, x) => s + x, 0) / rows;
      const variance = residuals.reduce((s, x) => s + (x - mean) ** 2, 0) / rows;
      expect(Math.abs(mean)).toBeLessThan(4 * Math.sqrt(0.5 / rows)); // 4 standard errors
      expect(Math.abs(variance - 0.5)).toBeLessThan(0.05);
    }
    const alone = sampleRegressionTargets({ outputs: outputs.subarray(20, 22), rows: 1, seed: 77, rowKeys: [10] });
    expect(Array.from(alone)).toEqual(Array.from(targets.subarray(20, 22)));
  });
});

describe('nextTokenTargets', () => {
  it('labels response targets with the next token; prompt, last token and padding are masked', () => {
    const ids = [5, 6, 7, 8, 0, 0, 1, 2, 3, 4, 9, 3];
    const { labels, lossMask } = nextTokenTargets(ids, [2, 6], [2, 1], [4, 6]);
    expect(Array.from(lossMask)).toEqual([0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0]);
    expect(Array.from(labels, Number)).toEqual([0, 7, 8, 0, 0, 0, 2, 3, 4, 9, 3, 0]);
    expect(() => nextTokenTargets(ids, [2, 6], [0, 1], [4, 6])).toThrow('row 0 has prompt length 0 and length 4');
  });
});
