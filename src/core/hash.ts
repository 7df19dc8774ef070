/**
 * Hashes: sha256 for content identity (bundles, stored files, fingerprints) and FNV-1a for a stable, seedable
 * order. A leaf: it imports nothing.
 */

/** sha256 through Web Crypto: the same code in Node ≥ 20 and in browsers. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** FNV-1a hash of a string: a stable, seedable order for subsampling that does not depend on file order. */
export function stableHash(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
