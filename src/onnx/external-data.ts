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

/**
 * The external data files' bytes, by the `location` their tensors name, normalised (`normalizeLocation`): the full
 * relative path, never only its last segment — `a/w.bin` and `b/w.bin` are two files (`matchExternalFiles` builds it).
 */
export type ExternalFiles = ReadonlyMap<string, Uint8Array>;

/**
 * A tensor's external data `location` as a '/'-separated path relative to the model's folder (`./` and repeated
 * separators dropped), or null where it points outside that folder: absolute (`/x`, `C:\x`, `\\host\x`), or
 * through `..`, or with a NUL. As onnx's own checker, a data file lies in the model's folder or below it.
 */
export function normalizeLocation(location: string): string | null {
  if (location.includes('\0') || /^([\\/]|[A-Za-z]:)/.test(location)) return null;
  const parts = location.split(/[\\/]+/).filter((part) => part !== '' && part !== '.');
  if (parts.length === 0 || parts.includes('..')) return null;
  return parts.join('/');
}

/**
 * The given data files keyed by the locations the model's tensors name (`locations`). A file given with its
 * relative path (`a/w.bin`, from the CLI or a picked folder) matches that location only. A file given by its bare
 * name (picked or dropped without its folder) stands for a location with that last segment only when no other
 * location shares it: `a/w.bin` and `b/w.bin` with one `w.bin` given is refused, never read twice from one file.
 */
export function matchExternalFiles(
  locations: readonly string[],
  files: readonly { readonly name: string; readonly bytes: Uint8Array }[],
): Map<string, Uint8Array> {
  const byPath = new Map<string, Uint8Array>();
  for (const file of files) {
    const key = normalizeLocation(file.name);
    if (key === null) throw new Error(`external data file '${file.name}' is not a path inside the model's folder`);
    if (byPath.has(key)) throw new Error(`external data file '${key}' is given twice`);
    byPath.set(key, file.bytes);
  }
  const lastSegment = (path: string) => path.slice(path.lastIndexOf('/') + 1);
  const matched = new Map<string, Uint8Array>();
  for (const location of locations) {
    const key = normalizeLocation(location);
    if (key === null) throw new Error(`external data location '${location}' points outside the model's folder`);
    const exact = byPath.get(key);
    if (exact) {
      matched.set(key, exact);
      continue;
    }
    const name = lastSegment(key);
    const bare = byPath.get(name);
    if (!bare) continue; // readExternalData names the tensor whose file is missing.
    const sharing = locations.filter((other) => lastSegment(normalizeLocation(other) ?? '') === name);
    if (new Set(sharing.map((other) => normalizeLocation(other))).size > 1) {
      throw new Error(
        `the model names ${sharing.length} external data files called '${name}' in different folders ` +
          `(${sharing.join(', ')}); give each with its folder (pick the model's folder), not one '${name}'`,
      );
    }
    matched.set(key, bare);
  }
  return matched;
}

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
  const key = normalizeLocation(location);
  if (key === null) throw fail(`external data location '${location}' points outside the model's folder`);
  const file = external?.get(key);
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
  return [...externalDataTensors(bytes).keys()];
}

/** Each external data location a model names, with the first tensor stored there (for messages). */
export function externalDataTensors(bytes: Uint8Array): Map<string, string> {
  let proto: pb.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch {
    return new Map(); // parseModel reports the malformed model.
  }
  const locations = new Map<string, string>();
  const visit = (graph: pb.IGraphProto | null | undefined): void => {
    for (const tensor of graph?.initializer ?? []) {
      const location = tensor.externalData?.find((e) => e.key === 'location')?.value;
      if (location && !locations.has(location)) locations.set(location, tensor.name ?? '');
    }
    for (const node of graph?.node ?? []) for (const attribute of node.attribute ?? []) visit(attribute.g);
  };
  visit(proto.graph);
  return locations;
}
