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
import { decodeBundle } from '../store/bundle';
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
  options: { readonly io: CliIo; readonly checkpoint?: string },
): Promise<DemoBundleBuild> {
  const [, ...flags] = demoBundleFlags(out, extra);
  const parsed = parseCommand(['attribute', ...flags]);
  if (parsed.name !== 'attribute') throw new CliUsageError('demo bundle: expected attribute flags');
  const checkpoint = options.checkpoint === undefined ? undefined : fileCheckpoint(options.checkpoint);
  await attribute(parsed.args, terminalIo(options.io), undefined, undefined, checkpoint);
  const bundle = await decodeBundle(readFileSync(out));
  const tensors = Object.fromEntries(
    Object.entries(bundle.manifest.tensors)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, { sha256 }]) => [name, sha256]),
  );
  const { scores } = bundle.manifest;
  return { queries: scores?.queries ?? 0, train: scores?.train ?? 0, tensors };
}
