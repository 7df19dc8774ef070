/**
 * A model folder picked in the page (`<input webkitdirectory>`): the worker chooses the variant as `--model-dir`
 * does, reads only that graph and the data files it names, and runs with the folder's tokenizer and
 * tokenizer_config.json (its chat template) unless another tokenizer is picked.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPickedFolder } from '../../src/worker/model-preview';
import { PickedModels } from '../../src/worker/picked-model';
import type { PageRequest } from '../../src/worker/protocol';
import { DEFAULT_RUN_CONFIG } from '../../src/app/config';

/** Every file under `dir` as the browser gives a picked folder: File objects and paths starting with its name. */
function pickFolder(dir: string, skip: (relative: string) => boolean = () => false) {
  const files: File[] = [];
  const paths: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const full = path.join(at, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (!skip(path.relative(dir, full))) {
        files.push(new File([readFileSync(full)], name));
        paths.push(path.join(path.basename(dir), path.relative(dir, full)).split(path.sep).join('/'));
      }
    }
  };
  walk(dir);
  return { files, paths };
}

describe('a picked model folder', () => {
  it('chooses the float32 variant, with the folder tokenizer and its chat template', async () => {
    const { files, paths } = pickFolder('tests/fixtures/models/folder-llama');
    const picked = await readPickedFolder(files, paths);
    expect(picked.name).toBe('folder-llama/onnx/model.onnx');
    expect(picked.note).toBe(
      'folder-llama: chose onnx/model.onnx (float32); also there: model_quantized, model_q4 (choose another in the list)',
    );
    expect(picked.variant).toBe('model');
    expect(picked.variants.map((v) => v.name)).toEqual(['model', 'model_quantized', 'model_q4']);
    expect(picked.data).toEqual([]);
    // Another variant by name (the page's list): that graph is read, and the note says it is used.
    const q4 = await readPickedFolder(files, paths, 'model_q4');
    expect([q4.name, q4.variant]).toEqual(['folder-llama/onnx/model_q4.onnx', 'model_q4']);
    expect(q4.note).toMatch(/^folder-llama: using onnx\/model_q4\.onnx \(4-bit blocks/);
    expect(picked.tokenizer?.name).toBe('folder-llama/tokenizer.json');
    expect(picked.tokenizerConfig?.text).toContain('chat_template');

    const models = new PickedModels();
    const info = await models.pick(files, paths);
    expect(info).toMatchObject({ name: 'folder-llama/onnx/model.onnx', note: picked.note, folderTokenizer: true });
    const request: PageRequest = {
      config: DEFAULT_RUN_CONFIG,
      source: {
        kind: 'picked',
        model: info.token,
        tokenizer: null,
        train: '',
        queries: '',
        names: { tokenizer: null, train: 't.jsonl', queries: 'q.jsonl' },
      },
    };
    const { source } = models.resolve(request).request;
    expect(source.kind === 'files' && [source.tokenizer, source.tokenizerConfig, source.names.tokenizerConfig]).toEqual(
      [picked.tokenizer!.text, picked.tokenizerConfig!.text, 'folder-llama/tokenizer_config.json'],
    );
  });

  it('reads the external data the chosen graph names, and refuses a folder that lacks it', async () => {
    const whole = pickFolder('tests/fixtures/models/gpt2-external');
    const picked = await readPickedFolder(whole.files, whole.paths);
    expect([picked.name, picked.data.map((d) => [d.name, d.bytes.byteLength])]).toEqual([
      'gpt2-external/model.onnx',
      [['model.onnx.data', statSync('tests/fixtures/models/gpt2-external/model.onnx.data').size]],
    ]);
    const partial = pickFolder('tests/fixtures/models/gpt2-external', (f) => f.endsWith('.data'));
    await expect(readPickedFolder(partial.files, partial.paths)).rejects.toThrow(
      "gpt2-external/model.onnx: its weights are stored in 'model.onnx.data', which is not in the picked folder",
    );
  });
});
