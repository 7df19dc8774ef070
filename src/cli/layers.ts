/**
 * `iwb layers MODEL.onnx [--model-data FILE] [--track REGEX]`: the model's linear layers with their dims, which the
 * default (the MLP projections, by structure and by name) or --track would track, and the inputs that will be fed —
 * before any run. Exits 1 when the choice tracks nothing or the graph asks for an input the workbench cannot fill.
 */
import { parseArgs } from 'node:util';
import { readModel } from '../app/inputs';
import { formatModelLayers, modelLayers } from '../app/model-layers';
import type { CliIo } from './attribute';
import { CliUsageError, parseArgsMessage } from './args';
import { readModelFiles } from './input-files';

export const LAYERS_USAGE = `Usage: iwb layers MODEL.onnx [--model-data FILE] [--track REGEX] [--json]
  lists the linear layers (node, op, d_in -> d_out, MLP role) and marks those a run tracks with *`;

export async function layersCommand(argv: readonly string[], io: CliIo): Promise<boolean> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { 'model-data': { type: 'string' }, track: { type: 'string' }, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new CliUsageError(parseArgsMessage(error, argv));
  }
  if (parsed.positionals.length !== 1) throw new CliUsageError(`give one model file\n${LAYERS_USAGE}`);
  const file = parsed.positionals[0]!;
  const track = parsed.values.track;
  if (track !== undefined) {
    try {
      new RegExp(track);
    } catch (error) {
      throw new CliUsageError(`--track "${track}" is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  const { bytes, externalData } = await readModelFiles(file, parsed.values['model-data']);
  const summary = modelLayers(readModel(file, bytes, externalData), track ?? null);
  io.stdout(parsed.values.json ? JSON.stringify(summary, null, 2) + '\n' : formatModelLayers(file, summary) + '\n');
  if (summary.problem) io.stderr(`iwb: ${summary.problem}\n`);
  return summary.problem === null;
}
