/**
 * Bundle fuzz cases: damaged bytes (caught by sizes and checksums) and re-signed edits of the manifest and tensors
 * (valid checksums, so only the reader's own checks stand between them and an import).
 */
import { BundleError, decodeBundle, encodeBundle } from '../../src/store/bundle';
import type { SafetensorsTensor } from '../../src/store/safetensors';
import { sampleContent, sampleEvaluation } from '../fixtures/store/sample-bundle';
import { resign, values, type Json } from '../helpers/bundle-edit';
import { checkRefusal, damageBytes, ODD_VALUES, violation, type Outcome, type Random } from './classify';

export interface BundleSetup {
  readonly bundles: readonly Uint8Array[];
}

export async function bundleSetup(): Promise<BundleSetup> {
  const evaluated = sampleContent({ queries: 3, train: 6 });
  return {
    bundles: [
      await encodeBundle({ ...evaluated, evaluation: sampleEvaluation(evaluated) }, { scoreDtype: 'F64' }),
      await encodeBundle(sampleContent({ queries: 2, train: 3, dims: [[2, 2]] })),
      await encodeBundle(sampleContent()),
      await encodeBundle(sampleContent({ rows: false })),
    ],
  };
}

const NUMBERS = [Number.NaN, Infinity, -Infinity, -1, 0, 0.5, 2.5, 1e30, -1e-30, 37];

/** A path into the manifest and its parent object, picked at random among the places that exist. */
function pickPlace(random: Random, manifest: Json): [Json, string] {
  const parents: Json[] = [
    manifest,
    manifest.layers?.[0],
    manifest.scores,
    manifest.datasets,
    manifest.rows?.train?.[0],
    manifest.rows?.query?.[0],
    manifest.evaluation,
    manifest.evaluation?.config,
    manifest.evaluation?.strategies?.[0],
  ].filter((p): p is Json => typeof p === 'object' && p !== null);
  const parent = random.pick(parents);
  const keys = Object.keys(parent);
  return [
    parent,
    random.chance(0.85) && keys.length > 0 ? random.pick(keys) : random.pick(['extra', 'segments', 'damping']),
  ];
}

function editManifest(random: Random, manifest: Json): void {
  const [parent, key] = pickPlace(random, manifest);
  switch (random.int(4)) {
    case 0:
      parent[key] = random.pick(ODD_VALUES);
      break;
    case 1:
      delete parent[key];
      break;
    case 2:
      parent[key] =
        typeof parent[key] === 'number' ? random.pick(NUMBERS.filter(Number.isFinite)) : random.pick(ODD_VALUES);
      break;
    default:
      manifest.stages = random.pick([
        [],
        ['scores'],
        ['self'],
        ['covariance', 'covariance'],
        ['eigen', 'lambda', 'scores', 'self'],
        'all',
      ]);
  }
}

function editTensors(random: Random, tensors: Map<string, SafetensorsTensor>): void {
  const names = [...tensors.keys()];
  const name = random.pick(names);
  const tensor = tensors.get(name)!;
  switch (random.int(3)) {
    case 0:
      if (tensor.dtype === 'F64' || tensor.dtype === 'F32') {
        const v = values(tensor);
        if (v.length > 0) v[random.int(v.length)] = random.pick(NUMBERS);
      }
      break;
    case 1:
      tensors.delete(name);
      break;
    default:
      tensors.set(random.pick(['scores.extra', 'layers.9.lambda_matrix', 'scores.tau', 'eval.lds.kfac.ranked']), {
        dtype: 'F32',
        shape: [0],
        data: new Uint8Array(0),
      });
  }
}

export async function bundleCase(random: Random, setup: BundleSetup): Promise<Uint8Array> {
  const base = random.pick(setup.bundles);
  switch (random.int(4)) {
    case 0:
      return damageBytes(random, base);
    case 1:
      return resign(base, (manifest) => editManifest(random, manifest));
    case 2:
      return resign(base, (_, tensors) => editTensors(random, tensors));
    default: {
      const depth = random.pick([10, 63, 65, 1000, 10_000]);
      return resign(
        base,
        () => {},
        (m) => JSON.stringify(m).replace('"config":{', `"config":{"x":${'['.repeat(depth)}${']'.repeat(depth)},`),
      );
    }
  }
}

export async function runBundleCase(bytes: Uint8Array): Promise<Outcome> {
  let bundle;
  try {
    bundle = await decodeBundle(bytes);
  } catch (error) {
    if (error instanceof BundleError && error.cause === undefined) {
      checkRefusal(error, /./);
      return 'refused';
    }
    throw error instanceof BundleError ? (error.cause as Error) : error;
  }
  if (bundle.manifest.version !== 1) violation(`accepted a bundle of version ${bundle.manifest.version}`);
  const tau = bundle.scores.tau;
  if (
    tau &&
    bundle.manifest.scores &&
    tau.data.length !== bundle.manifest.scores.queries * bundle.manifest.scores.train
  ) {
    violation('accepted scores.tau whose size disagrees with the manifest');
  }
  return 'accepted';
}
