/**
 * A picked model's files, read and parsed in the worker (picked-model.ts): which file is the graph and which are its
 * external data. The UI imports only the layer list's types from here.
 */
import { readModel } from '../app/inputs';
import { chooseVariant, insideFolder } from '../app/model-folder';
import { InputLimitError } from '../data/limits';
import { externalDataLocations } from '../onnx/protobuf';
import { readPickedData, readPickedModel, readPickedText } from './picked-files';
import type { Model } from '../onnx/ir';

export type { LinearLayerInfo, ModelLayers } from '../app/model-layers';

type Picked = Blob & { readonly name: string };

/** The picked model files: one .onnx graph and any number of data files (model.onnx.data, weights.bin, …). */
export interface PickedModel {
  readonly name: string;
  readonly bytes: ArrayBuffer;
  readonly data: { readonly name: string; readonly bytes: ArrayBuffer }[];
}

export async function readPickedModelFiles(files: readonly Picked[]): Promise<PickedModel> {
  const graphs = files.filter((f) => /\.onnx$/i.test(f.name));
  if (graphs.length !== 1) {
    throw new InputLimitError(
      graphs.length === 0
        ? `choose one .onnx model file (picked: ${files.map((f) => f.name).join(', ') || 'nothing'})`
        : `choose one .onnx model file, not ${graphs.length} (${graphs.map((f) => f.name).join(', ')})`,
    );
  }
  const graph = graphs[0]!;
  const data = await Promise.all(
    files.filter((f) => f !== graph).map(async (f) => ({ name: f.name, bytes: await readPickedData(f) })),
  );
  return { name: graph.name, bytes: await readPickedModel(graph), data };
}

/** Parses the picked model once (external data included); throws naming the file, tensor or offset at fault. */
export function parsePickedModel(picked: PickedModel): Model {
  return readModel(
    picked.name,
    new Uint8Array(picked.bytes),
    picked.data.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) })),
  );
}

/**
 * A model folder picked in the page (`<input webkitdirectory>`): `paths` are the files' relative paths
 * (`my-model/onnx/model.onnx`; the picked folder's own name is dropped). The variant is chosen as the CLI's
 * --model-dir chooses it (app/model-folder.ts); only the chosen graph and the data files it names are read, with the
 * folder's tokenizer.json and tokenizer_config.json. A data location outside the folder is refused.
 */
export interface PickedFolder extends PickedModel {
  readonly note: string;
  /** The folder's variants, preferred first (app/model-folder.ts), and the one read. */
  readonly variants: readonly { readonly name: string; readonly description: string }[];
  readonly variant: string;
  readonly tokenizer: { readonly name: string; readonly text: string } | null;
  readonly tokenizerConfig: { readonly name: string; readonly text: string } | null;
}

export async function readPickedFolder(
  files: readonly Picked[],
  paths: readonly string[],
  variant?: string,
): Promise<PickedFolder> {
  if (paths.length !== files.length) throw new InputLimitError('the picked folder lists its files inconsistently');
  const folder = paths[0]?.split('/')[0] ?? 'folder';
  const byPath = new Map<string, Picked>();
  paths.forEach((p, i) => byPath.set(p.split('/').slice(1).join('/') || p, files[i]!));
  let choice;
  try {
    choice = chooseVariant(folder, [...byPath.keys()], variant, 'choose another in the list');
  } catch (error) {
    throw new InputLimitError((error as Error).message);
  }
  const graph = byPath.get(choice.variant.path)!;
  const bytes = await readPickedModel(graph);
  const dir = choice.variant.path.includes('/')
    ? choice.variant.path.slice(0, choice.variant.path.lastIndexOf('/') + 1)
    : '';
  const data = [];
  for (const location of externalDataLocations(new Uint8Array(bytes))) {
    const relative = dir + location.replace(/\\/g, '/');
    const file = insideFolder(relative) ? byPath.get(relative) : undefined;
    if (!file) {
      throw new InputLimitError(
        `${folder}/${choice.variant.path}: its weights are stored in '${location}', which is not in the picked folder`,
      );
    }
    data.push({ name: location, bytes: await readPickedData(file) });
  }
  const text = async (relative: string | null) => {
    const file = relative === null ? undefined : byPath.get(relative);
    return file ? { name: `${folder}/${relative}`, text: await readPickedText(file, 'tokenizer') } : null;
  };
  return {
    name: `${folder}/${choice.variant.path}`,
    bytes,
    data,
    note: choice.note,
    variants: choice.variants.map(({ name, description }) => ({ name, description })),
    variant: choice.variant.name,
    tokenizer: await text(choice.tokenizer),
    tokenizerConfig: await text(choice.tokenizerConfig),
  };
}
