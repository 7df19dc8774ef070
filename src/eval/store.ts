/**
 * Stores for the evaluation's retrains: in memory (tests, one-shot runs) and as JSON text (the CLI's checkpoint
 * file). Float64 values survive JSON exactly (JavaScript writes the shortest decimal that reads back to the same
 * double), so a resumed evaluation computes from bit-identical measurements.
 */
import type { EvaluationCheckpoint, EvaluationStore } from './types';

export function memoryEvaluationStore(initial: EvaluationCheckpoint | null = null): EvaluationStore & {
  readonly current: () => EvaluationCheckpoint | null;
} {
  let saved = initial;
  return {
    load: async () => saved,
    save: async (checkpoint) => {
      saved = { ...checkpoint, retrains: { ...checkpoint.retrains } };
    },
    current: () => saved,
  };
}

export function checkpointToJson(checkpoint: EvaluationCheckpoint): string {
  const retrains = Object.fromEntries(
    Object.entries(checkpoint.retrains).map(([key, values]) => [key, Array.from(values)]),
  );
  return JSON.stringify({ ...checkpoint, retrains });
}

/** Parses a checkpoint file's text; `where` names the file in errors. */
export function checkpointFromJson(text: string, where: string): EvaluationCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const record = value as { version?: unknown; fingerprint?: unknown; retrains?: unknown };
  if (record === null || typeof record !== 'object' || record.version !== 1 || typeof record.fingerprint !== 'string') {
    throw new Error(`${where}: not an evaluation checkpoint (version 1 with a fingerprint)`);
  }
  if (record.retrains === null || typeof record.retrains !== 'object')
    throw new Error(`${where}: has no retrains object`);
  const retrains: Record<string, Float64Array> = {};
  for (const [key, values] of Object.entries(record.retrains as Record<string, unknown>)) {
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new Error(`${where}: retrain "${key}" is not a list of finite numbers`);
    }
    retrains[key] = Float64Array.from(values as number[]);
  }
  return { version: 1, fingerprint: record.fingerprint, retrains };
}
