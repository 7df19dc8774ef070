/**
 * A picked model's files, read and parsed in the worker (picked-model.ts): which file is the graph and which are its
 * external data. The UI imports only the layer list's types from here.
 */
import { readModel } from '../app/inputs';
import { InputLimitError } from '../data/limits';
import { readPickedModel } from './picked-files';
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
    files.filter((f) => f !== graph).map(async (f) => ({ name: f.name, bytes: await readPickedModel(f) })),
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
