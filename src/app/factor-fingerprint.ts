/**
 * Fit once, ask many times: what ties a run's fitted factors (eigenbases, Λ) to the model and training data they were
 * fitted on, so a later run that scores new queries against them (`iwb attribute --factors DIR`) can refuse factors
 * of another model, other training data, another strategy, Fisher or tracked layers — naming what differs — instead
 * of returning scores that mean nothing. The damping is not part of it: it is recomputed from Λ at scoring time from
 * the run's own setting (kept here for the record).
 */
import { serializeModel } from '../onnx/protobuf';
import { fingerprintOf, type Fingerprint } from '../store/bundle';
import type { Example } from '../data/dataset';
import type { RunConfig } from './config';
import type { RunInputs } from './inputs';

export const FACTOR_FINGERPRINT_FILE = 'iwb-factors.json';

export interface FactorFingerprint {
  readonly format: 'iwb-factors';
  readonly version: 1;
  /** The model graph and its external data files, by content (names are for the reader). */
  readonly model: readonly Fingerprint[];
  /** The training examples the factors were fitted on: their count and a sha256 of their token ids. */
  readonly train: { readonly examples: number; readonly sha256: string };
  readonly strategy: string;
  readonly fisher: string;
  /** The seed of the sampled labels (the true Fisher's); null for the empirical Fisher, where it plays no part. */
  readonly seed: number | null;
  readonly layers: readonly { readonly name: string; readonly dIn: number; readonly dOut: number }[];
  /** Per layer, the damping the fitting run used (informational: a reuse recomputes it from its own setting). */
  readonly damping?: readonly number[];
}

/** sha256 of the training rows as the model sees them: per example its length, prompt length and token ids. */
export async function trainingDataHash(train: readonly Example[]): Promise<{ examples: number; sha256: string }> {
  const total = train.reduce((sum, e) => sum + 2 + e.inputIds.length, 0);
  const words = new Int32Array(total);
  let at = 0;
  for (const example of train) {
    words[at++] = example.inputIds.length;
    words[at++] = example.promptLen;
    words.set(example.inputIds, at);
    at += example.inputIds.length;
  }
  const { sha256 } = await fingerprintOf('train', new Uint8Array(words.buffer));
  return { examples: train.length, sha256 };
}

/** The fingerprint of a run about to fit (or to reuse) factors over `layers`. */
export async function factorFingerprint(
  inputs: RunInputs,
  config: RunConfig,
  layers: readonly { readonly name: string; readonly dIn: number; readonly dOut: number }[],
  damping?: readonly number[],
): Promise<FactorFingerprint> {
  const graph = inputs.modelBytes ?? serializeModel(inputs.model);
  const model = [
    await fingerprintOf(inputs.modelName, graph),
    ...(await Promise.all((inputs.modelData ?? []).map((f) => fingerprintOf(f.name, f.bytes)))),
  ];
  return {
    format: 'iwb-factors',
    version: 1,
    model,
    train: await trainingDataHash(inputs.train),
    strategy: config.strategy,
    fisher: config.fisher,
    seed: config.fisher === 'sampled' ? config.seed : null,
    layers: layers.map(({ name, dIn, dOut }) => ({ name, dIn, dOut })),
    ...(damping ? { damping: [...damping] } : {}),
  };
}

/**
 * Why factors fitted under `saved` cannot score this run (`now`): one sentence naming each part that differs, or null
 * when they agree.
 */
export function fingerprintMismatch(saved: FactorFingerprint, now: FactorFingerprint): string | null {
  const differences: string[] = [];
  const short = (hash: string) => `${hash.slice(0, 12)}…`;
  if (saved.model.length !== now.model.length || saved.model.some((f, i) => f.sha256 !== now.model[i]!.sha256)) {
    const describe = (files: readonly Fingerprint[]) => files.map((f) => `${f.name} ${short(f.sha256)}`).join(', ');
    differences.push(`the model (fitted on ${describe(saved.model)}; this run has ${describe(now.model)})`);
  }
  if (saved.train.sha256 !== now.train.sha256) {
    differences.push(
      `the training data (fitted on ${saved.train.examples} examples, sha256 ${short(saved.train.sha256)}; this run ` +
        `has ${now.train.examples}, sha256 ${short(now.train.sha256)})`,
    );
  }
  for (const key of ['strategy', 'fisher', 'seed'] as const) {
    if (saved[key] !== now[key])
      differences.push(`the ${key} (fitted with ${String(saved[key])}; this run asks for ${String(now[key])})`);
  }
  const layers = (f: FactorFingerprint) => f.layers.map((l) => `${l.name} [${l.dIn} → ${l.dOut}]`).join(', ');
  if (layers(saved) !== layers(now))
    differences.push(`the tracked layers (fitted on ${layers(saved)}; this run tracks ${layers(now)})`);
  return differences.length === 0 ? null : `the factors do not belong to this run: ${differences.join('; ')}`;
}

/** Reads a fingerprint file's JSON, refusing anything that is not one (naming the file). */
export function parseFactorFingerprint(text: string, file: string): FactorFingerprint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const v = value as Partial<FactorFingerprint> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    v.format !== 'iwb-factors' ||
    v.version !== 1 ||
    !Array.isArray(v.model) ||
    !Array.isArray(v.layers) ||
    typeof v.train?.sha256 !== 'string' ||
    typeof v.strategy !== 'string' ||
    typeof v.fisher !== 'string'
  ) {
    throw new Error(`${file}: not an iwb factor fingerprint (format "iwb-factors", version 1)`);
  }
  return v as FactorFingerprint;
}
