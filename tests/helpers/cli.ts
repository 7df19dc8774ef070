import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { seededDemoModel } from '../../src/app/demo-model';
import type { CliIo } from '../../src/cli/attribute';
import { runCli } from '../../src/cli/main';
import type { Model } from '../../src/onnx/ir';
import { serializeModel } from '../../src/onnx/protobuf';
import { readSafetensors } from '../../src/store/safetensors';
import { tensorToArray } from '../../src/store/tensor-values';

/**
 * Runs `iwb` in-process with captured output (not a terminal, so progress is one line per stage); `chooseBackend`
 * hands the run a backend the test holds (one WebGPU device for many runs).
 */
export async function cli(
  argv: string[],
  chooseBackend?: CliIo['chooseBackend'],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    interactive: false,
    ...(chooseBackend ? { chooseBackend } : {}),
  });
  return { code, stdout, stderr };
}

/** The all-modules pairwise scores of a `--kronfluence-out` folder (scores_pairwise/pairwise_scores.safetensors). */
export function readPairwiseScores(root: string): Float64Array {
  const bytes = new Uint8Array(readFileSync(path.join(root, 'scores_pairwise', 'pairwise_scores.safetensors')));
  return tensorToArray(readSafetensors(bytes).tensors.get('all_modules')!) as Float64Array;
}

/** The micro demo's data as user files, and a seeded micro model written beside them. */
export interface UserFiles {
  readonly model: string;
  readonly tokenizer: string;
  readonly train: string;
  readonly queries: string;
}

export const MICRO_DATA = {
  tokenizer: 'public/data/micro/tokenizer.json',
  train: 'public/data/micro/train.jsonl',
  queries: 'public/data/micro/queries.jsonl',
} as const;

/** The seeded micro GPT sized to the micro tokenizer, as ONNX bytes (optionally edited, to make a bad model). */
export function microModelBytes(edit: (model: Model) => Model = (m) => m): Uint8Array {
  const vocab = (JSON.parse(readFileSync(MICRO_DATA.tokenizer, 'utf8')) as { model: { vocab: Record<string, number> } })
    .model.vocab;
  return serializeModel(edit(seededDemoModel('micro', Math.max(...Object.values(vocab)) + 1, 512).model));
}

/** Writes the micro model into `dir` and returns the four user files. */
export function microUserFiles(dir: string, name = 'micro.onnx'): UserFiles {
  const model = path.join(dir, name);
  writeFileSync(model, microModelBytes());
  return { model, ...MICRO_DATA };
}

/** `iwb attribute` on user files, CPU backend, with extra flags. */
export function attributeArgs(files: UserFiles, ...flags: string[]): string[] {
  return [
    'attribute',
    ...['--model', files.model, '--tokenizer', files.tokenizer, '--train', files.train, '--queries', files.queries],
    ...['--backend', 'cpu'],
    ...flags,
  ];
}
