/**
 * Every gradient batch goes through here: a source that returns the wrong shapes (a mis-chosen layer, a graph with
 * another width, a forgotten bias flag) is caught before any kernel runs, with the layer, the examples and the shapes.
 */
import type { Backend } from '../linalg/backend';
import { isOutOfMemory, OutOfMemoryError } from './errors';
import type { GradientBatch, GradientRequest, GradientSource } from './types';

function shapeText(shape: readonly number[] | undefined): string {
  return shape ? `[${shape.join(', ')}]` : 'none';
}

export async function fetchBatch(
  source: GradientSource,
  request: GradientRequest,
  backend: Backend,
): Promise<GradientBatch> {
  let batch: GradientBatch;
  try {
    batch = await source.gradients(request, backend);
  } catch (error) {
    throw isOutOfMemory(error) ? new OutOfMemoryError(request.indices.length, error) : error;
  }
  const b = request.indices.length;
  const t = batch.sequenceLength;
  const where = `${request.role} examples ${request.indices[0]}–${request.indices[b - 1]}`;
  const problems: string[] = [];
  if (batch.layers.length !== source.layers.length)
    problems.push(`${batch.layers.length} layers, the source declares ${source.layers.length}`);
  batch.layers.forEach((layer, l) => {
    const info = source.layers[l];
    if (!info) return;
    const expect = (what: string, shape: readonly number[] | undefined, wanted: readonly number[]) => {
      if (shapeText(shape) !== shapeText(wanted))
        problems.push(`layer "${info.name}": ${what} ${shapeText(shape)}, expected ${shapeText(wanted)}`);
    };
    expect('activations', layer.activations.shape, [b, t, info.dIn]);
    expect('gradients', layer.gradients.shape, [b, t, info.dOut]);
    if (layer.mask) expect('mask', layer.mask.shape, [b, t]);
    if (layer.appendOnes !== info.hasBias)
      problems.push(`layer "${info.name}": appendOnes is ${layer.appendOnes} but hasBias is ${info.hasBias}`);
  });
  for (const [name, length] of [
    ['tokenCounts', batch.tokenCounts.length],
    ['targetCounts', batch.targetCounts.length],
    ['loss', batch.loss.length],
  ] as const) {
    if (length !== b) problems.push(`${name} has ${length} entries for ${b} examples`);
  }
  if (problems.length > 0) {
    batch.release();
    throw new Error(`gradient source returned a malformed batch for ${where}: ${problems.join('; ')}`);
  }
  return batch;
}
