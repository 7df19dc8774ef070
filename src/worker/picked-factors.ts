/**
 * A factors folder picked in the page (kronfluence 1.0.x's factors_<strategy>/ layout, which `iwb --kronfluence-out`
 * and `--save-factors` write too), read in the worker from its File handles: nothing is read on the page thread, and a
 * file is refused by its size before it is read (store/kronfluence.ts). Modules are matched to the run's tracked
 * layers and their shapes checked (app/imported-factors.ts); a mismatch names the module.
 */
import { InputError } from '../app/input-error';
import { matchFactorsToLayers } from '../app/imported-factors';
import type { TrackedLayer } from '../onnx/gradient-spec';
import { browserFileSource } from '../store/file-source';
import { importKronfluence } from '../store/kronfluence';
import type { ModelFactors } from '../core/schema';

/** The picked folder's name as the page shows it ('run1/factors_ekfac/x.safetensors' → 'run1'). */
export function pickedFolderName(files: readonly File[]): string {
  const relative = (files[0] as (File & { webkitRelativePath?: string }) | undefined)?.webkitRelativePath ?? '';
  return relative.includes('/') ? relative.slice(0, relative.indexOf('/')) : 'the picked files';
}

export async function readPickedFactors(
  files: readonly File[],
  layers: readonly Pick<TrackedLayer, 'nodeName' | 'dIn' | 'dOut' | 'hasBias'>[],
): Promise<ModelFactors> {
  const where = `factors folder ${pickedFolderName(files)}`;
  let imported;
  try {
    imported = await importKronfluence(browserFileSource(files));
  } catch (error) {
    throw new InputError(`${where}: ${(error as Error).message}`);
  }
  if (!imported.factors)
    throw new InputError(`${where}: no kronfluence factor files (e.g. factors_ekfac/lambda_matrix.safetensors)`);
  return matchFactorsToLayers(imported.factors, layers, where);
}
