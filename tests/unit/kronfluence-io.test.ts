import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KRONFLUENCE_FIXTURES } from '../helpers/fixtures';
import { browserFileSource, memoryFileSource } from '../../src/store/file-source';
import {
  KronfluenceError,
  exportKronfluenceFactors,
  exportKronfluenceScores,
  importKronfluence,
} from '../../src/store/kronfluence';
import { nodeDirectorySource, writeFilesToDirectory } from '../../src/store/node-file-source';
import { readSafetensors, writeSafetensors } from '../../src/store/safetensors';
import { floatTensor } from '../../src/store/tensor-values';
import { activationCovariance, gradientCovariance, type HostMatrix } from '../../src/core/schema';

const fixtures = `${KRONFLUENCE_FIXTURES}/`;
const kronfluenceDir = (model: string) => join(fixtures, model, 'kronfluence', model);
const temporary: string[] = [];
afterAll(async () => Promise.all(temporary.map((dir) => rm(dir, { recursive: true, force: true }))));

/** max |Q diag(λ) Qᵀ − M| for a [d, d] Q (columns) and [d] λ. */
function reconstructionError(q: HostMatrix, lambda: HostMatrix, m: HostMatrix): number {
  const d = lambda.shape[0]!;
  let worst = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += q.data[i * d + k]! * lambda.data[k]! * q.data[j * d + k]!;
      worst = Math.max(worst, Math.abs(sum - m.data[i * d + j]!));
    }
  }
  return worst;
}

describe('importing what kronfluence wrote', () => {
  it('reads the mlp_classifier factors and scores as they are', async () => {
    const imported = await importKronfluence(await nodeDirectorySource(kronfluenceDir('mlp_classifier')));
    const factors = imported.factors!;
    expect(factors.directory).toBe('factors_ekfac');
    expect(factors.strategy).toBe('ekfac');
    expect(factors.arguments?.use_empirical_fisher).toBe(true);
    expect(factors.layers.map((layer) => layer.name)).toEqual(['fc1', 'fc2', 'fc3']);
    const fc1 = factors.layers[0]!;
    expect(fc1.activationCovarianceSum!.shape).toEqual([7, 7]);
    expect(fc1.gradientCovarianceSum!.shape).toEqual([16, 16]);
    expect(fc1.lambdaSum!.shape).toEqual([16, 7]);
    expect([fc1.activationCount, fc1.gradientCount, fc1.lambdaCount]).toEqual([64, 64, 64]);
    // The eigendecomposition is of the mean: this pins down that the saved covariances are sums.
    for (const layer of factors.layers) {
      expect(
        reconstructionError(layer.activationEigenvectors!, layer.activationEigenvalues!, activationCovariance(layer)!),
      ).toBeLessThan(1e-12);
      expect(
        reconstructionError(layer.gradientEigenvectors!, layer.gradientEigenvalues!, gradientCovariance(layer)!),
      ).toBeLessThan(1e-12);
    }
    expect(imported.pairwise).toHaveLength(1);
    expect(imported.pairwise[0]!.total.shape).toEqual([8, 64]);
    expect(imported.pairwise[0]!.total.data[0]).toBe(-84.96212910529198);
    expect(imported.pairwise[0]!.arguments?.damping_factor).toBeNull();
    expect(imported.self[0]!.total.shape).toEqual([64]);
  });

  it('reads the token_lm factors: token counts for covariances, sequence counts for lambda', async () => {
    const { factors, pairwise } = await importKronfluence(await nodeDirectorySource(kronfluenceDir('token_lm')));
    const byName = new Map(factors!.layers.map((layer) => [layer.name, layer]));
    expect([...byName.keys()].sort()).toEqual(['down', 'unembed', 'up']);
    expect(byName.get('unembed')!.lambdaSum!.shape).toEqual([12, 8]);
    expect(byName.get('up')!.activationCovarianceSum!.shape).toEqual([9, 9]);
    expect([byName.get('up')!.activationCount, byName.get('up')!.lambdaCount]).toEqual([274, 40]);
    expect(pairwise[0]!.total.shape).toEqual([6, 40]);
  });

  it('reads the same from a browser directory pick (webkitRelativePath) as from disk', async () => {
    const directory = kronfluenceDir('token_lm');
    const onDisk = await nodeDirectorySource(directory);
    const picked = onDisk.paths.map((path) => {
      const file = new File([readFileSync(join(directory, path))], path.split('/').pop()!);
      Object.defineProperty(file, 'webkitRelativePath', { value: `token_lm/${path}` });
      return file;
    });
    expect(await importKronfluence(browserFileSource(picked))).toEqual(await importKronfluence(onDisk));
  });
});

describe('exporting ours in kronfluence layout', () => {
  it('round-trips through a directory with byte-equal tensors, and reproduces kronfluence files tensor for tensor', async () => {
    const source = await nodeDirectorySource(kronfluenceDir('mlp_classifier'));
    const { factors } = await importKronfluence(source);
    const files = exportKronfluenceFactors(factors!, { arguments: { use_empirical_fisher: true } });
    const out = await mkdtemp(join(tmpdir(), 'iwb-kronfluence-'));
    temporary.push(out);
    await writeFilesToDirectory(out, files);
    const again = await importKronfluence(await nodeDirectorySource(out));
    expect(again.factors!.layers).toEqual(factors!.layers);
    expect(again.factors!.strategy).toBe('ekfac');
    expect(again.factors!.arguments?.use_empirical_fisher).toBe(true);
    for (const path of source.paths.filter((p) => p.startsWith('factors_ekfac/') && p.endsWith('.safetensors'))) {
      const original = readSafetensors(await source.read(path));
      const exported = readSafetensors(files.get(path)!);
      expect([...exported.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
      for (const [name, tensor] of original.tensors) expect(exported.tensors.get(name)).toEqual(tensor);
      expect(exported.metadata.strategy).toBe('ekfac');
    }
  });

  it('exports scores as all_modules and reads them back', async () => {
    const tau = { shape: [2, 3], data: Float64Array.of(1, -2, 3.5, 4, 5, -6e-9) };
    const files = exportKronfluenceScores({ tau, selfTau: { shape: [3], data: Float64Array.of(1, 2, 3) } });
    const { pairwise, self, factors } = await importKronfluence(memoryFileSource(files));
    expect(factors).toBeNull();
    expect(pairwise[0]!.total).toEqual(tau);
    expect(self[0]!.directory).toBe('scores_self');
  });

  it('refuses to export a part only some layers have', () => {
    const layer = (name: string, withLambda: boolean) => ({
      name,
      ...(withLambda ? { lambdaSum: { shape: [1, 1], data: Float64Array.of(1) }, lambdaCount: 2 } : {}),
    });
    expect(() =>
      exportKronfluenceFactors({ strategy: 'diagonal', layers: [layer('a', true), layer('b', false)] }),
    ).toThrow(/lambda_matrix: layers b do not have it/);
  });
});

describe('bad kronfluence directories give a clear error', () => {
  const lambdaFile = (tensors: Record<string, HostMatrix>) =>
    writeSafetensors(
      Object.fromEntries(Object.entries(tensors).map(([name, m]) => [name, floatTensor(m.shape, m.data)])),
    );
  const eye = (d: number) => ({
    shape: [d, d],
    data: Float64Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)),
  });

  it('names modules that differ between files', async () => {
    const files = new Map([
      ['f/activation_eigenvectors.safetensors', lambdaFile({ a: eye(2), b: eye(2) })],
      ['f/lambda_matrix.safetensors', lambdaFile({ a: eye(2) })],
    ]);
    await expect(importKronfluence(memoryFileSource(files))).rejects.toThrow(
      /f\/lambda_matrix.safetensors: modules differ .*missing: b/,
    );
  });

  it('names the layer and file of a NaN and of a shape mismatch', async () => {
    const nan = new Map([
      ['f/lambda_matrix.safetensors', lambdaFile({ up: { shape: [1, 2], data: Float64Array.of(1, NaN) } })],
    ]);
    await expect(importKronfluence(memoryFileSource(nan))).rejects.toThrow(
      /lambda_matrix.safetensors: module 'up': element 1 is NaN/,
    );
    const mismatch = new Map([
      ['f/activation_covariance.safetensors', lambdaFile({ up: eye(3) })],
      ['f/lambda_matrix.safetensors', lambdaFile({ up: { shape: [2, 2], data: new Float64Array(4) } })],
    ]);
    await expect(importKronfluence(memoryFileSource(mismatch))).rejects.toThrow(
      /module 'up': lambda_matrix has shape \[2, 2\], expected \[dOut, 3\]/,
    );
  });

  it('asks which factors directory when there are several, and refuses an empty or oversized selection', async () => {
    const two = new Map([
      ['factors_ekfac/lambda_matrix.safetensors', lambdaFile({ a: eye(1) })],
      ['factors_diag/lambda_matrix.safetensors', lambdaFile({ a: eye(1) })],
    ]);
    await expect(importKronfluence(memoryFileSource(two))).rejects.toThrow(
      /several factors directories \(factors_diag, factors_ekfac\)/,
    );
    expect(
      (await importKronfluence(memoryFileSource(two), { factorsDirectory: 'factors_diag' })).factors!.strategy,
    ).toBe('diagonal');
    await expect(importKronfluence(memoryFileSource(new Map([['x.txt', new Uint8Array(1)]])))).rejects.toThrow(
      KronfluenceError,
    );
    await expect(
      importKronfluence(memoryFileSource(two), { factorsDirectory: 'factors_diag', maxFileBytes: 10 }),
    ).rejects.toThrow(/over the 10-byte limit/);
  });
});
