/** Reading an exported .iwb (a safetensors file) in e2e tests without going through the code under test. */
import { expect } from 'vitest';

function header(file: Buffer): Record<string, { dtype: string; data_offsets: [number, number] }> & {
  __metadata__: Record<string, string>;
} {
  const headerLength = Number(file.readBigUInt64LE(0));
  return JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8'));
}

/** A tensor's raw bytes (8-byte little-endian header length, JSON header, data); the page writes float64. */
export function tensorBytes(file: Buffer, name: string): Buffer {
  const headerLength = Number(file.readBigUInt64LE(0));
  const entry = header(file)[name];
  if (!entry) throw new Error(`bundle has no tensor '${name}'`);
  expect(entry.dtype).toBe('F64');
  return file.subarray(8 + headerLength + entry.data_offsets[0], 8 + headerLength + entry.data_offsets[1]);
}

export function tensorValues(file: Buffer, name: string): Float64Array {
  const bytes = tensorBytes(file, name);
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The manifest's training and query row ids, in tensor order. */
export function bundleRowIds(file: Buffer): { train: string[]; query: string[] } {
  const manifest = JSON.parse(header(file).__metadata__['iwb.manifest']!) as {
    rows: { train: { id: string }[]; query: { id: string }[] };
  };
  return { train: manifest.rows.train.map((r) => r.id), query: manifest.rows.query.map((r) => r.id) };
}
