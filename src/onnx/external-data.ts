/**
 * ONNX external data: tensors whose bytes live in a file beside the model (`model.onnx` + `model.onnx.data`, which
 * exporters write for models over protobuf's 2 GB, or on request). Each tensor names its file (`location`, relative
 * to the model's folder), an `offset` and a `length`; the files are given by name (the CLI reads them from beside
 * the model or from --model-data, the page takes them picked or dropped with the model).
 */
import onnxProto from 'onnx-proto';
import type { onnx as pb } from 'onnx-proto';
import type { TensorValues } from './ir';

const { onnx } = onnxProto;

/** The external data files' bytes, by the `location` their tensors name (or its last path segment). */
export type ExternalFiles = ReadonlyMap<string, Uint8Array>;

/** The tensor's bytes from its external file: `location`, `offset` (default 0), `length` (default: what dims need). */
export function readExternalData(
  proto: pb.ITensorProto,
  ctor: { new (buffer: ArrayBuffer): TensorValues; readonly BYTES_PER_ELEMENT: number },
  count: number,
  external: ExternalFiles | undefined,
  fail: (problem: string) => Error,
): TensorValues {
  const entries = new Map((proto.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw fail('is stored externally but names no location');
  const file = external?.get(location) ?? external?.get(location.split('/').pop()!);
  if (!file) {
    throw fail(
      `data is stored in the external file '${location}', which was not given ` +
        '(keep it beside the model, pass it with --model-data, or pick/drop it together with the model)',
    );
  }
  const number = (key: string, fallback: number): number => {
    const text = entries.get(key);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value))
      throw fail(`external data ${key} '${text}' is not a non-negative integer`);
    return value;
  };
  const offset = number('offset', 0);
  const needed = count * ctor.BYTES_PER_ELEMENT;
  const length = number('length', needed);
  if (length !== needed) {
    throw fail(`external data length ${length} in '${location}' is not the ${needed} bytes its dims need`);
  }
  if (offset + length > file.length) {
    throw fail(
      `needs bytes ${offset}–${offset + length} of '${location}', which has only ${file.length} bytes (truncated?)`,
    );
  }
  // Copy: the tensor must not alias (or keep alive) the whole data file, and typed arrays need aligned offsets.
  const copy = new Uint8Array(length);
  copy.set(file.subarray(offset, offset + length));
  return new ctor(copy.buffer);
}

/** The external data files a model's tensors name (empty for a model with every tensor inline). */
export function externalDataLocations(bytes: Uint8Array): string[] {
  let proto: pb.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch {
    return []; // parseModel reports the malformed model.
  }
  const locations = new Set<string>();
  const visit = (graph: pb.IGraphProto | null | undefined): void => {
    for (const tensor of graph?.initializer ?? []) {
      const location = tensor.externalData?.find((e) => e.key === 'location')?.value;
      if (location) locations.add(location);
    }
    for (const node of graph?.node ?? []) for (const attribute of node.attribute ?? []) visit(attribute.g);
  };
  visit(proto.graph);
  return [...locations];
}
