/**
 * A factors folder picked in the page, read from File handles as the worker reads them: kronfluence 1.0.1's own
 * token_lm factors match the model's layers by module name, keep kronfluence's numbers, and a layer whose shape
 * differs is refused naming the module.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { readPickedFactors } from '../../src/worker/picked-factors';
import { readSafetensors } from '../../src/store/safetensors';
import { tensorToFloat64 } from '../../src/store/tensor-values';
import { KRONFLUENCE_FIXTURES } from '../helpers/fixtures';

const RUN = path.join(KRONFLUENCE_FIXTURES, 'token_lm', 'kronfluence', 'token_lm');

/** The folder as a directory picker gives it: Files whose webkitRelativePath starts with the picked folder's name. */
function pickedFolder(root: string, name: string): File[] {
  const files: File[] = [];
  const walk = (dir: string, relative: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, `${relative}/${entry.name}`);
      else {
        const file = new File([readFileSync(full)], entry.name);
        Object.defineProperty(file, 'webkitRelativePath', { value: `${relative}/${entry.name}` });
        files.push(file);
      }
    }
  };
  walk(root, name);
  return files;
}

// token_lm: up Linear(8, 16), down Linear(16, 8), unembed Linear(8, 12, bias=False); node names as torch.onnx writes.
const LAYERS = [
  { nodeName: '/up/Gemm', dIn: 8, dOut: 16, hasBias: true },
  { nodeName: '/down/Gemm', dIn: 16, dOut: 8, hasBias: true },
  { nodeName: '/unembed/MatMul', dIn: 8, dOut: 12, hasBias: false },
];

test("kronfluence's factors are matched to the tracked layers by module name, values as kronfluence saved them", async () => {
  const factors = await readPickedFactors(pickedFolder(RUN, 'token_lm'), LAYERS);
  expect(factors.strategy).toBe('ekfac');
  expect(factors.layers.map((l) => l.name)).toEqual(LAYERS.map((l) => l.nodeName));
  const { tensors } = readSafetensors(
    new Uint8Array(readFileSync(path.join(RUN, 'factors_ekfac', 'lambda_matrix.safetensors'))),
  );
  const down = factors.layers[1]!;
  expect(down.lambdaSum!.shape).toEqual([8, 17]);
  expect([...down.lambdaSum!.data]).toEqual([...tensorToFloat64(tensors.get('down')!, 'down')]);
  expect(down.lambdaCount).toBe(40);
});

test('a module whose shape does not fit its layer is refused, naming the folder, the module and both shapes', async () => {
  const wrong = [LAYERS[0]!, { ...LAYERS[1]!, dOut: 9 }, LAYERS[2]!];
  await expect(readPickedFactors(pickedFolder(RUN, 'token_lm'), wrong)).rejects.toThrow(
    /^factors folder token_lm: module "down": gradient_covariance has shape \[8, 8\], but layer "\/down\/Gemm" \(dIn 16 \+ bias, dOut 9\) needs \[9, 9\]$/,
  );
});

test('a tracked layer with no module in the folder is refused, listing the modules the files have', async () => {
  const extra = [...LAYERS, { nodeName: '/h.0/mlp/c_fc/MatMul', dIn: 8, dOut: 32, hasBias: false }];
  await expect(readPickedFactors(pickedFolder(RUN, 'token_lm'), extra)).rejects.toThrow(
    'factors folder token_lm: no factors for layer "/h.0/mlp/c_fc/MatMul" (module "h.0.mlp.c_fc"); the files have down, unembed, up',
  );
});

test('a folder with no factor files is refused by name', async () => {
  const scoresOnly = pickedFolder(path.join(RUN, 'scores_pairwise'), 'scores_pairwise');
  await expect(readPickedFactors(scoresOnly, LAYERS)).rejects.toThrow(
    /^factors folder scores_pairwise: no kronfluence factor files/,
  );
});
