/**
 * The model picked in the page, kept in the worker: its files arrive once (as File handles, read here, so the page's
 * main thread neither copies nor parses hundreds of MB), are parsed once, and serve the Options → Layers list and
 * every run estimate until another model is picked; a run on it gets the same bytes as a 'files' source.
 */
import { modelLayers, type ModelLayers } from '../app/model-layers';
import type { Model } from '../onnx/ir';
import {
  parsePickedModel,
  readPickedFolder,
  readPickedModelFiles,
  type PickedFolder,
  type PickedModel,
} from './model-preview';
import type { AttributionRequest, PageRequest, PickedModelInfo } from './protocol';

type Picked = Blob & { readonly name: string };

const isFolder = (picked: PickedModel | PickedFolder): picked is PickedFolder => 'note' in picked;

export class PickedModels {
  private current: {
    readonly token: string;
    readonly files: PickedModel | PickedFolder;
    readonly model: Model;
  } | null = null;
  private picks = 0;

  /**
   * Reads and parses the picked files (one .onnx and its data files, or with `paths` a model folder's files, whose
   * variant is chosen here, or named by `variant`); replaces the model picked before.
   */
  async pick(files: readonly Picked[], paths?: readonly string[], variant?: string): Promise<PickedModelInfo> {
    // A pick that fails leaves no model: the page shows its error, not the layers of the model picked before.
    this.current = null;
    const picked = paths ? await readPickedFolder(files, paths, variant) : await readPickedModelFiles(files);
    const model = parsePickedModel(picked);
    const token = `picked-${++this.picks}`;
    this.current = { token, files: picked, model };
    return {
      token,
      name: picked.name,
      dataNames: picked.data.map((f) => f.name),
      bytes: picked.data.reduce((sum, f) => sum + f.bytes.byteLength, picked.bytes.byteLength),
      ...(isFolder(picked) && {
        note: picked.note,
        folderTokenizer: picked.tokenizer !== null,
        variants: picked.variants,
        variant: picked.variant,
      }),
    };
  }

  private kept(token: string) {
    if (this.current?.token !== token) {
      throw new Error('the model picked for this request is no longer loaded in the page: pick the model again');
    }
    return this.current;
  }

  layers(token: string, trackedLayers: string | null): ModelLayers {
    return modelLayers(this.kept(token).model, trackedLayers);
  }

  /**
   * The request with the picked model's bytes in place of its token (a 'files' source, as the page sent before), and
   * the parsed model for the estimate to reuse. Other requests pass through.
   */
  resolve(request: PageRequest): { request: AttributionRequest; parsed: Model | null } {
    const { source } = request;
    if (source.kind !== 'picked') return { request: request as AttributionRequest, parsed: null };
    const { files, model } = this.kept(source.model);
    // A picked folder's tokenizer (with its tokenizer_config.json: special tokens, chat template) unless another
    // tokenizer was picked.
    const folder = isFolder(files) && source.tokenizer === null ? files : null;
    return {
      request: {
        ...request,
        source: {
          kind: 'files',
          model: files.bytes,
          modelData: files.data,
          tokenizer: folder?.tokenizer?.text ?? source.tokenizer,
          ...(folder?.tokenizerConfig ? { tokenizerConfig: folder.tokenizerConfig.text } : {}),
          train: source.train,
          queries: source.queries,
          names: {
            ...source.names,
            model: files.name,
            ...(folder?.tokenizer ? { tokenizer: folder.tokenizer.name } : {}),
            ...(folder?.tokenizerConfig ? { tokenizerConfig: folder.tokenizerConfig.name } : {}),
          },
        },
      },
      parsed: model,
    };
  }
}
