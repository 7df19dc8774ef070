/**
 * `iwb evaluate --checkpoint FILE`'s files: FILE holds every finished retrain; FILE.influence.json each strategy's
 * influence; and, for `--out x.iwb`, FILE.influence.<key hash>.iwb the bundled strategy's whole attribution (scores,
 * factors, rows, the trained model's fingerprint), so that a second run trains and attributes nothing and writes the
 * same bundle. Every file is replaced whole (a temporary file renamed over the old one).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeRunBundle } from '../app/bundle-content';
import type { InfluenceCache } from '../app/evaluation-job';
import { checkpointFromJson, checkpointToJson } from '../eval/store';
import type { EvaluationStore } from '../eval/types';
import { decodeBundle, sha256Hex, type Bundle, type BundleContent } from '../store/bundle';

async function replaceFile(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(`${file}.partial`, data);
  await rename(`${file}.partial`, file);
}

/** The checkpoint file: replaced whole after every retrain. */
export function fileStore(file: string): EvaluationStore {
  return {
    async load() {
      if (!existsSync(file)) return null;
      return checkpointFromJson(await readFile(file, 'utf8'), file);
    },
    save: (checkpoint) => replaceFile(file, checkpointToJson(checkpoint)),
  };
}

/**
 * Each strategy's influence under its key in one JSON file; bundle content in an .iwb file named by its key, whose
 * sha256 the JSON file records (under `bundle:<key>`): a bundle swapped in from another run (another model, other
 * data, "identity LDS 1.000") no longer matches and is refused, naming both files.
 */
export function fileInfluenceCache(file: string): InfluenceCache {
  const read = async (): Promise<Record<string, unknown>> =>
    existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>) : {};
  const contentFile = async (key: string) =>
    `${file.replace(/\.json$/, '')}.${(await sha256Hex(key)).slice(0, 16)}.iwb`;
  const recorded = (key: string) => `bundle:${key}`;
  return {
    name: file,
    async load(key) {
      const values = (await read())[key];
      if (values === undefined) return null;
      if (!Array.isArray(values) || !values.every((v) => typeof v === 'number' && Number.isFinite(v)))
        throw new Error(`${file}: the saved influence is not a list of finite numbers`);
      return Float64Array.from(values);
    },
    async save(key, influence) {
      await replaceFile(file, JSON.stringify({ ...(await read()), [key]: Array.from(influence) }));
    },
    async loadContent(key) {
      const saved = await contentFile(key);
      if (!existsSync(saved)) return null;
      const bytes = await readFile(saved);
      const want = (await read())[recorded(key)];
      if (want !== (await sha256Hex(bytes))) {
        throw new Error(
          `${saved}: not the attribution this checkpoint saved for this model, data and configuration ` +
            `(its sha256 is not the one ${file} records${want === undefined ? ': none recorded' : ''}); ` +
            'delete it to attribute again',
        );
      }
      try {
        return contentOf(await decodeBundle(bytes));
      } catch (error) {
        throw new Error(`${saved}: the saved attribution is not a readable bundle (${(error as Error).message})`, {
          cause: error,
        });
      }
    },
    async saveContent(key, content) {
      // Float64 scores, as every bundle the CLI writes: the content read back is the content saved, bit for bit.
      const bytes = await encodeRunBundle(content, 'iwb evaluate');
      await replaceFile(await contentFile(key), bytes);
      await replaceFile(file, JSON.stringify({ ...(await read()), [recorded(key)]: await sha256Hex(bytes) }));
    },
  };
}

/** A decoded bundle's content, without its evaluation: what encodeRunBundle wrote. */
function contentOf(bundle: Bundle): BundleContent {
  const { manifest } = bundle;
  if (!manifest.scores) throw new Error('it holds no scores');
  return {
    model: manifest.model,
    datasets: manifest.datasets,
    strategy: manifest.strategy,
    config: manifest.config,
    backend: manifest.backend,
    layers: bundle.factors.layers,
    scores: { ...bundle.scores, measurement: manifest.scores.measurement },
    rows: manifest.rows,
  };
}
