/**
 * A picked model's external data file is read in slices (Blob.slice), never in one read of the whole file (Chromium
 * cannot read a Blob of 2 GiB or more into one ArrayBuffer): checked on the committed gpt2-external fixture with the
 * slice size forced small, so its 124,672 bytes take many slices; the bytes and the parsed weights equal a whole read.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePickedModel } from '../../src/worker/model-preview';
import { DATA_SLICE_BYTES, readPickedData } from '../../src/worker/picked-files';

const DIR = 'tests/fixtures/models/gpt2-external';

/** A File that records every slice taken and refuses to be read whole. */
class RecordingFile extends Blob {
  readonly slices: [number, number][] = [];
  constructor(
    bytes: Uint8Array<ArrayBuffer>,
    readonly name: string,
  ) {
    super([bytes]);
  }
  override slice(start?: number, end?: number, type?: string): Blob {
    this.slices.push([start ?? 0, end ?? this.size]);
    return super.slice(start, end, type);
  }
  override arrayBuffer(): Promise<ArrayBuffer> {
    throw new Error(`${this.name} was read whole`);
  }
}

describe('external data read in slices', () => {
  const data = new Uint8Array(readFileSync(`${DIR}/model.onnx.data`));

  it('reads every byte through slices no larger than the slice size, in order, never whole', async () => {
    const file = new RecordingFile(data, 'model.onnx.data');
    const sliceBytes = 10_000;
    const bytes = new Uint8Array(await readPickedData(file, sliceBytes));
    expect(bytes).toEqual(data);
    expect(file.slices).toHaveLength(Math.ceil(data.length / sliceBytes)); // 13 slices
    expect(file.slices.length).toBeGreaterThan(10);
    file.slices.forEach(([start, end], i) => {
      expect(start).toBe(i * sliceBytes);
      expect(end - start).toBeLessThanOrEqual(sliceBytes);
    });
    expect(file.slices.at(-1)![1]).toBe(data.length);
  });

  it('the model parsed from sliced data has the weights of a whole read', async () => {
    const graph = readFileSync(`${DIR}/model.onnx`);
    const graphBytes = graph.buffer.slice(graph.byteOffset, graph.byteOffset + graph.byteLength);
    const sliced = await readPickedData(new RecordingFile(data, 'model.onnx.data'), 4096);
    const whole = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    const parse = (bytes: ArrayBuffer) =>
      parsePickedModel({ name: 'model.onnx', bytes: graphBytes, data: [{ name: 'model.onnx.data', bytes }] });
    const [a, b] = [parse(sliced), parse(whole)];
    expect(a.graph.initializers.size).toBeGreaterThan(0);
    for (const [name, tensor] of b.graph.initializers) {
      expect(Array.from(a.graph.initializers.get(name)!.data as ArrayLike<number>), name).toEqual(
        Array.from(tensor.data as ArrayLike<number>),
      );
    }
  });

  it('the page reads in 64 MiB slices; a bad slice size is refused', async () => {
    expect(DATA_SLICE_BYTES).toBe(64 * 2 ** 20);
    await expect(readPickedData(new RecordingFile(data, 'd'), 0)).rejects.toThrow('slice size must be > 0, got 0');
  });
});
