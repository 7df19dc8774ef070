/**
 * The CLI's bridge to kronfluence's file layout: `--factors DIR` scores with factors kronfluence (or an earlier run)
 * fitted, `--kronfluence-out DIR` writes this run's factors and raw scores where kronfluence's tools read them.
 * Layers are matched by module name: torch.onnx keeps the module path in node names, so the node
 * '/h.0/mlp/c_fc/MatMul' is kronfluence's module 'h.0.mlp.c_fc'.
 */
import { stat } from 'node:fs/promises';
import { importKronfluence, exportKronfluenceFactors, exportKronfluenceScores } from '../store/kronfluence';
import { nodeDirectorySource } from '../store/node-file-source';
import type { ModelFactors } from '../core/schema';
import type { AttributionResult } from '../influence/types';
import { InputError } from '../app/inputs';
import { moduleNameOfLayer } from '../app/imported-factors';
import {
  FACTOR_FINGERPRINT_FILE,
  fingerprintMismatch,
  parseFactorFingerprint,
  type FactorFingerprint,
} from '../app/factor-fingerprint';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

// The page matches imported factors the same way (app/imported-factors.ts).
export { moduleNameOfLayer };

/** Reads a kronfluence factors directory (the one holding factors_<strategy>/, or that folder itself). */
export async function readFactorsDirectory(directory: string): Promise<ModelFactors> {
  const info = await stat(directory).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) {
    const why =
      info.code === 'ENOENT'
        ? 'no such folder'
        : info.code === 'ENOTDIR'
          ? 'a part of the path is not a folder'
          : `${info.code ?? info.message}`;
    throw new InputError(`--factors ${directory}: ${why}; give the folder kronfluence (or --kronfluence-out) wrote`);
  }
  if (!info.isDirectory())
    throw new InputError(
      `--factors ${directory}: is not a folder; give the folder kronfluence (or --kronfluence-out) wrote`,
    );
  let imported;
  try {
    imported = await importKronfluence(await nodeDirectorySource(directory));
  } catch (error) {
    throw new InputError(`--factors ${directory}: ${(error as Error).message}`);
  }
  if (!imported.factors) throw new InputError(`--factors ${directory}: no kronfluence factor files found there`);
  return imported.factors;
}

/**
 * The files of factors_<strategy>/ and scores_pairwise/, scores_self/ (raw τ, float64), by '/'-separated path under
 * the --kronfluence-out folder; attribute.ts writes them with its other outputs (all or none).
 */
export function kronfluenceFiles(result: AttributionResult): Map<string, Uint8Array> {
  const files = exportKronfluenceFactors(result.factors, { moduleName: moduleNameOfLayer });
  const q = result.queries.length;
  const n = result.train.length;
  const scores = exportKronfluenceScores({
    tau: { shape: [q, n], data: result.tau },
    selfTau: { shape: [n], data: result.selfTau },
  });
  for (const [path, bytes] of scores) files.set(path, bytes);
  return files;
}

/**
 * `--save-factors DIR`: the fitted factors in kronfluence's layout (factors_<strategy>/) and the fingerprint that ties
 * them to this run's model and training data, by '/'-separated path under DIR.
 */
export function savedFactorFiles(result: AttributionResult, fingerprint: FactorFingerprint): Map<string, Uint8Array> {
  const files = exportKronfluenceFactors(result.factors, { moduleName: moduleNameOfLayer });
  files.set(FACTOR_FINGERPRINT_FILE, new TextEncoder().encode(JSON.stringify(fingerprint, null, 2) + '\n'));
  return files;
}

/**
 * The fingerprint saved with a --factors folder (in it, or beside its factors_<strategy>/ folder when that is what was
 * named), or null for factors without one (kronfluence's own: nothing to check them against).
 */
export async function readSavedFingerprint(directory: string): Promise<FactorFingerprint | null> {
  const candidates = [path.join(directory, FACTOR_FINGERPRINT_FILE)];
  if (/^factors_/.test(path.basename(path.resolve(directory))))
    candidates.push(path.join(directory, '..', FACTOR_FINGERPRINT_FILE));
  const file = candidates.find((f) => existsSync(f));
  if (!file) return null;
  try {
    return parseFactorFingerprint(await readFile(file, 'utf8'), file);
  } catch (error) {
    throw new InputError(`--factors ${directory}: ${(error as Error).message}`);
  }
}

/** Refuses factors saved for another model, training set, strategy, Fisher or layers, naming what differs. */
export function checkSavedFingerprint(directory: string, saved: FactorFingerprint, now: FactorFingerprint): void {
  const mismatch = fingerprintMismatch(saved, now);
  if (mismatch) throw new InputError(`--factors ${directory}: ${mismatch}`);
}
