/**
 * The kronfluence reference fixtures (tests/fixtures/kronfluence, see its README) as ExactModels: weights read
 * through the store's safetensors codec, data from data.json, and kronfluence's own factors and scores through the
 * store's kronfluence import.
 */
import { readFile } from 'node:fs/promises';
import { importKronfluence, type KronfluenceImport } from '../../src/store/kronfluence';
import { nodeDirectorySource } from '../../src/store/node-file-source';
import { readSafetensors } from '../../src/store/safetensors';
import { tensorToFloat64 } from '../../src/store/tensor-values';
import type { ExampleMeta, ExampleSet } from '../../src/influence/types';
import { KRONFLUENCE_FIXTURES } from './fixtures';
import { chainModel, tokenLmModel, type LinearParams, type TokenSequence } from './exact-models';
import type { ExactModel } from './exact-source';

export const FIXTURES = KRONFLUENCE_FIXTURES;

async function weights(name: string): Promise<Map<string, Float64Array>> {
  // A plain Uint8Array copy: Node's Buffer.slice() is a view, which typed-array decoding must not be handed.
  const bytes = new Uint8Array(await readFile(`${FIXTURES}/${name}/model.safetensors`));
  const file = readSafetensors(bytes, { source: `${name}/model.safetensors` });
  return new Map([...file.tensors].map(([key, tensor]) => [key, tensorToFloat64(tensor, key)]));
}

function linear(
  w: Map<string, Float64Array>,
  name: string,
  dIn: number,
  dOut: number,
  bias: boolean,
  activation: LinearParams['activation'],
): LinearParams {
  const weight = w.get(`${name}.weight`);
  if (!weight || weight.length !== dIn * dOut)
    throw new Error(`fixture: ${name}.weight missing or not [${dOut}, ${dIn}]`);
  return { name, dIn, dOut, activation, weight, bias: bias ? w.get(`${name}.bias`)! : null };
}

function exampleSet(role: 'train' | 'query', count: number): ExampleSet {
  return { role, examples: Array.from({ length: count }, (_, i): ExampleMeta => ({ id: `${role}-${i}` })) };
}

export interface Fixture {
  readonly model: ExactModel;
  readonly trainSet: ExampleSet;
  readonly querySet: ExampleSet;
  readonly reference: KronfluenceImport;
}

export async function kronfluenceReference(name: 'mlp_classifier' | 'token_lm'): Promise<KronfluenceImport> {
  return importKronfluence(await nodeDirectorySource(`${FIXTURES}/${name}/kronfluence/${name}`));
}

export async function mlpClassifierFixture(): Promise<Fixture> {
  const w = await weights('mlp_classifier');
  const data = JSON.parse(await readFile(`${FIXTURES}/mlp_classifier/data.json`, 'utf8')) as {
    train: { x: number[][]; y: number[] };
    queries: { x: number[][]; y: number[] };
  };
  const layers = [
    linear(w, 'fc1', 6, 16, true, 'relu'),
    linear(w, 'fc2', 16, 16, true, 'relu'),
    linear(w, 'fc3', 16, 3, true, 'none'),
  ];
  const model = chainModel(
    layers,
    { kind: 'cross-entropy' },
    {
      x: {
        train: data.train.x.map((r) => Float64Array.from(r)),
        query: data.queries.x.map((r) => Float64Array.from(r)),
      },
      y: { train: data.train.y, query: data.queries.y },
    },
  );
  return {
    model,
    trainSet: exampleSet('train', data.train.y.length),
    querySet: exampleSet('query', data.queries.y.length),
    reference: await kronfluenceReference('mlp_classifier'),
  };
}

/** `measured`: per query, the token spans its measurement counts (a span measurement); absent: the whole response. */
export async function tokenLmFixture(
  measured: readonly (TokenSequence['measured'] | undefined)[] = [],
): Promise<Fixture> {
  const w = await weights('token_lm');
  const data = JSON.parse(await readFile(`${FIXTURES}/token_lm/data.json`, 'utf8')) as {
    vocab_size: number;
    train: { input_ids: number[]; prompt_len: number }[];
    queries: { input_ids: number[]; prompt_len: number }[];
  };
  const sequences = (rows: typeof data.train): TokenSequence[] =>
    rows.map((r) => ({ inputIds: r.input_ids, promptLength: r.prompt_len }));
  const embedding = w.get('emb.weight')!;
  const dModel = embedding.length / data.vocab_size;
  const model = tokenLmModel(
    {
      embedding,
      vocab: data.vocab_size,
      dModel,
      up: linear(w, 'up', dModel, 16, true, 'tanh'),
      down: linear(w, 'down', 16, dModel, true, 'none'),
      unembed: linear(w, 'unembed', dModel, data.vocab_size, false, 'none'),
    },
    {
      train: sequences(data.train),
      query: sequences(data.queries).map((q, i) => (measured[i] ? { ...q, measured: measured[i] } : q)),
    },
  );
  return {
    model,
    trainSet: exampleSet('train', data.train.length),
    querySet: exampleSet('query', data.queries.length),
    reference: await kronfluenceReference('token_lm'),
  };
}

/** The fixture's weights in the model builders' record format (float64, PyTorch names). */
export async function fixtureWeights(
  name: 'mlp_classifier' | 'token_lm',
): Promise<Record<string, { dims: number[]; data: Float64Array }>> {
  const bytes = new Uint8Array(await readFile(`${FIXTURES}/${name}/model.safetensors`));
  const file = readSafetensors(bytes, { source: `${name}/model.safetensors` });
  return Object.fromEntries(
    [...file.tensors].map(([key, tensor]) => [key, { dims: [...tensor.shape], data: tensorToFloat64(tensor, key) }]),
  );
}

export async function fixtureData(name: 'mlp_classifier' | 'token_lm'): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(`${FIXTURES}/${name}/data.json`, 'utf8')) as Record<string, unknown>;
}
