/** Rewrites a bundle's manifest or tensors and re-signs it (valid checksums), to test the checks beyond checksums. */
import { BundleError, decodeBundle, MANIFEST_KEY, MANIFEST_SHA256_KEY, sha256Hex } from '../../src/store/bundle';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../../src/store/safetensors';

export type Json = Record<string, any>;

export async function resign(
  bytes: Uint8Array,
  edit: (manifest: Json, tensors: Map<string, SafetensorsTensor>) => void,
  manifestText?: (manifest: Json) => string,
): Promise<Uint8Array> {
  const file = readSafetensors(bytes);
  const manifest = JSON.parse(file.metadata[MANIFEST_KEY]!) as Json;
  const tensors = new Map([...file.tensors].map(([name, t]) => [name, { ...t, data: t.data.slice() }]));
  edit(manifest, tensors);
  // An edit may have replaced the checksum table itself; then it stays as the edit left it.
  const checksums = manifest.tensors;
  if (typeof checksums === 'object' && checksums !== null && !Array.isArray(checksums)) {
    for (const name of Object.keys(checksums)) if (!tensors.has(name)) delete checksums[name];
    for (const [name, tensor] of tensors) checksums[name] = { sha256: await sha256Hex(tensor.data) };
  }
  const text = manifestText ? manifestText(manifest) : JSON.stringify(manifest);
  return writeSafetensors(tensors, { [MANIFEST_KEY]: text, [MANIFEST_SHA256_KEY]: await sha256Hex(text) });
}

/** A float tensor's values as a Float64Array view (F64) or Float32Array view (F32) to edit in place. */
export function values(tensor: SafetensorsTensor): Float64Array | Float32Array {
  const { buffer, byteOffset, byteLength } = tensor.data;
  return tensor.dtype === 'F64'
    ? new Float64Array(buffer, byteOffset, byteLength / 8)
    : new Float32Array(buffer, byteOffset, byteLength / 4);
}

/**
 * The message with which decodeBundle refuses `good` after `edit` (re-signed); throws when it is accepted or fails
 * otherwise than with a BundleError. (No vitest import: scripts/fuzz.ts loads this module under plain tsx.)
 */
export async function refusalOf(
  good: Uint8Array | Promise<Uint8Array>,
  edit: (manifest: Json, tensors: Map<string, SafetensorsTensor>) => void,
): Promise<string> {
  const error = await decodeBundle(await resign(await good, edit)).then(
    () => null,
    (e: unknown) => e,
  );
  if (error instanceof BundleError) return error.message;
  throw new Error(`expected a BundleError, got ${error === null ? 'an accepted bundle' : String(error)}`);
}
