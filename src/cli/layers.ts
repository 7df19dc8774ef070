/**
 * `iwb layers MODEL.onnx [--model-data FILE] [--track mlp|attention|all|REGEX]`: the model's linear layers with
 * their dims, which the default (the MLP projections, by structure and by name) or --track would track, and the
 * inputs that will be fed — before any run. Exits 1 when the choice tracks nothing or the graph asks for an input
 * the workbench cannot fill.
 */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readModel } from '../app/inputs';
import { formatModelLayers, modelLayers } from '../app/model-layers';
import type { CliIo } from './attribute';
import { CliUsageError, parseArgsMessage, usage } from './args';
import { parseOption, RUN_OPTIONS } from '../app/options';
import { readFolderConfig } from '../app/model-folder';
import { readInputText, readModelFiles } from './input-files';
import { readModelDir } from './model-dir';

export const LAYERS_USAGE = `Usage: iwb layers MODEL.onnx|MODEL_DIR [--model-data FILE] [--variant NAME] [--track ${RUN_OPTIONS.track.grammar}] [--json]
  lists the linear layers (node, op, d_in -> d_out, MLP role) and marks those a run tracks with *; a model folder
  (onnx/model*.onnx) lists its chosen variant (float32 > float16 > quantized, or --variant NAME); --track takes a
  preset by role (mlp, attention, all: every linear layer but the output head) or a regular expression over node names`;

export async function layersCommand(argv: readonly string[], io: CliIo): Promise<boolean> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'model-data': { type: 'string' },
        variant: { type: 'string' },
        track: { type: 'string' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new CliUsageError(parseArgsMessage(error, argv));
  }
  if (parsed.positionals.length !== 1) throw new CliUsageError(`give one model file\n${LAYERS_USAGE}`);
  const given = parsed.positionals[0]!;
  const isFolder = await stat(given).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (parsed.values.variant !== undefined && !isFolder)
    throw new CliUsageError(`--variant needs a model folder, and ${given} is not one`);
  if (isFolder && parsed.values['model-data'] !== undefined)
    throw new CliUsageError('--model-data is for a model file; a model folder holds its data beside the model');
  const folder = isFolder ? await readModelDir(given, parsed.values.variant) : null;
  const file = folder?.model ?? given;
  const track = parsed.values.track;
  // The same check as `iwb attribute`'s: a preset (mlp, attention, all) or a valid regular expression.
  if (track !== undefined) usage(() => parseOption('track', track));
  const { bytes, externalData } = await readModelFiles(file, parsed.values['model-data']);
  const summary = modelLayers(readModel(file, bytes, externalData), track ?? null);
  const config = folder?.config
    ? readFolderConfig(folder.config, (await readInputText('--model-dir', folder.config, 'tokenizer')).text)
    : null;
  if (folder && !parsed.values.json) io.stdout(`${folder.choice.note}\n`);
  if (config && !parsed.values.json) {
    const said = [
      config.modelType && `model_type ${config.modelType}`,
      config.vocabSize && `vocab_size ${config.vocabSize}`,
      config.maxPositions && `max_position_embeddings ${config.maxPositions}`,
    ].filter(Boolean);
    if (said.length) io.stdout(`config.json: ${said.join(', ')}\n`);
  }
  const listed = folder ? { ...summary, folder: folder.choice, config } : summary;
  io.stdout(parsed.values.json ? JSON.stringify(listed, null, 2) + '\n' : formatModelLayers(file, summary) + '\n');
  if (summary.problem) io.stderr(`iwb: ${summary.problem}\n`);
  return summary.problem === null;
}
