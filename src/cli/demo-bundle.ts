/**
 * The precomputed full demo bundle (issue 20 §2, `npm run demo:full-bundle`): `iwb attribute` on the built-in demo's
 * every training example and query, EK-FAC on the CPU float64 backend (seed 0), with group token scores and each
 * query's top-20 pair token scores. CPU float64 runs are bit-reproducible, so the tensors' sha256 are the bundle's
 * identity (its bytes differ only in the manifest's createdAt); the test runs this on the micro demo twice.
 *
 * The run is long (tens of minutes on two cores): a checkpoint file keeps the engine's state (covariance sums, Λ
 * sums, finished query chunks), written at most once a minute, so a killed build resumes where it was.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeBundle, encodeBundle, sha256Hex } from '../store/bundle';
import type { FullDemoManifest } from '../core/full-demo';
import type { CheckpointStore, RunCheckpoint } from '../influence/types';
import { attribute, type CliIo } from './attribute';
import { CliUsageError, parseCommand } from './args';
import { terminalIo } from './terminal';

/** The `iwb attribute` flags of the full demo bundle, written to `out`; `extra` flags replace none of these. */
export function demoBundleFlags(out: string, extra: readonly string[]): string[] {
  return [
    'attribute',
    // The full demo unless the extra flags name another (`iwb` takes each flag once).
    ...(extra.includes('--demo') ? [] : ['--demo', 'demo']),
    '--backend',
    'cpu',
    '--seed',
    '0',
    // Limits above the demo's size take every row (the demo's default is a subsample).
    '--limit-train',
    '1000000',
    '--limit-queries',
    '1000000',
    '--out',
    out,
    ...extra,
  ];
}

/**
 * A checkpoint in one file (node:v8 serialisation keeps the Float64Arrays exact), replaced whole: written to a
 * sibling and renamed, so a kill mid-write leaves the previous one. Saves closer than `minSeconds` to the last are
 * skipped (the state is serialised when it is written, so what is on disk is always one consistent chunk's).
 */
export function fileCheckpoint(file: string, minSeconds = 60): CheckpointStore {
  let last = -Infinity;
  return {
    load: () => Promise.resolve(existsSync(file) ? (deserialize(readFileSync(file)) as RunCheckpoint) : null),
    save: (checkpoint) => {
      const now = performance.now();
      if (now - last >= minSeconds * 1000) {
        writeFileSync(`${file}.tmp`, serialize(checkpoint));
        renameSync(`${file}.tmp`, file);
        last = now;
      }
      return Promise.resolve();
    },
  };
}

export interface DemoBundleBuild {
  readonly queries: number;
  readonly train: number;
  /** sha256 of every tensor, by name (sorted). */
  readonly tensors: Record<string, string>;
}

/** Runs the attribution and writes `out`; returns its tensors' hashes. */
export async function buildDemoBundle(
  out: string,
  extra: readonly string[],
  options: { readonly io: CliIo; readonly checkpoint?: string | CheckpointStore },
): Promise<DemoBundleBuild> {
  const [, ...flags] = demoBundleFlags(out, extra);
  const parsed = parseCommand(['attribute', ...flags]);
  if (parsed.name !== 'attribute') throw new CliUsageError('demo bundle: expected attribute flags');
  const checkpoint = typeof options.checkpoint === 'string' ? fileCheckpoint(options.checkpoint) : options.checkpoint;
  await attribute(parsed.args, terminalIo(options.io), undefined, undefined, checkpoint);
  return describeBuild(out);
}

/** A built bundle's size in rows and its tensors' hashes (as the build returns them). */
export async function describeBuild(file: string): Promise<DemoBundleBuild> {
  const bundle = await decodeBundle(readFileSync(file));
  const tensors = Object.fromEntries(
    Object.entries(bundle.manifest.tensors)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, { sha256 }]) => [name, sha256]),
  );
  const { scores } = bundle.manifest;
  return { queries: scores?.queries ?? 0, train: scores?.train ?? 0, tensors };
}

/** What the page's copy of the bundle leaves out, said in its manifest and docs/demo.md. */
export const PAGE_COPY_NOTE =
  'scores stored as float32; the EK-FAC factors and the per-layer scores left out (the exact float64 build has them)';

/**
 * The page's copy of a bundle: the same run with its scores as float32 (relative error ≤ 2⁻²⁴, below what any view
 * shows), without the factor stages (covariance, eigen, Λ: only needed to score new queries, which the read-only
 * view does not) and without τ per layer (the training-example view then omits its per-layer line). Everything the
 * workspace's views read — scores, self-influence, group and pair token scores, rows with tokens — stays, so it opens
 * without computing at under half the size. Deterministic: the exact bundle's createdAt is kept.
 */
export async function pageCopy(exact: Uint8Array): Promise<Uint8Array> {
  const { manifest, scores, evaluation } = await decodeBundle(exact);
  if (!manifest.scores) throw new Error('the demo bundle has no scores to show');
  const kept = { ...scores };
  delete kept.tauPerLayer;
  return encodeBundle(
    {
      model: manifest.model,
      ...(manifest.modelData ? { modelData: manifest.modelData } : {}),
      datasets: manifest.datasets,
      strategy: manifest.strategy,
      config: manifest.config,
      backend: manifest.backend,
      layers: manifest.layers.map((l) => ({
        name: l.name,
        ...(l.weightName !== undefined && { weightName: l.weightName }),
        dIn: l.dIn,
        dOut: l.dOut,
        hasBias: l.hasBias,
        ...(l.damping !== undefined && { damping: l.damping }),
      })),
      scores: { ...kept, measurement: manifest.scores.measurement },
      rows: manifest.rows,
      evaluation,
    },
    { scoreDtype: 'F32', createdAt: manifest.createdAt, generator: manifest.generator },
  );
}

/**
 * The page's download: the copy gzip-compressed (level 9; Node's gzip header carries no time, so the same copy gives
 * the same bytes). Its rows (text, tokens) shrink several-fold; the float32 scores little.
 */
export function compressedPageCopy(page: Uint8Array): Uint8Array {
  return gzipSync(page, { level: 9 });
}

/** The manifest of the page's copy (public/demo/full-demo.json): its size and hashes, the build's hashes and origin. */
export async function demoManifest(
  build: DemoBundleBuild,
  page: Uint8Array,
  origin: { readonly file: string; readonly command: string; readonly commit: string },
): Promise<FullDemoManifest> {
  const { manifest } = await decodeBundle(gunzipSync(page));
  const pageTensors = Object.fromEntries(
    Object.entries(manifest.tensors)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, { sha256 }]) => [name, sha256]),
  );
  return {
    bundle: {
      file: origin.file,
      bytes: page.byteLength,
      sha256: await sha256Hex(page),
      uncompressedBytes: gunzipSync(page).byteLength,
    },
    queries: build.queries,
    train: build.train,
    strategy: manifest.strategy,
    backend: manifest.backend ?? 'unknown',
    seed: 0,
    command: origin.command,
    commit: origin.commit,
    pageCopy: PAGE_COPY_NOTE,
    buildTensors: build.tensors,
    pageTensors,
  };
}
