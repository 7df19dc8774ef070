/**
 * `?bundle=<url>`: fetch a bundle the page was linked to, with one clear message for each way it can fail (the
 * server cannot be reached or refuses cross-origin reads, an HTTP error, something that is not a bundle — the
 * last one comes from the worker's decoder when it is imported). A gzip-compressed bundle (the precomputed full demo,
 * `.iwb.gz`) is decompressed here; the digest and the run are the bundle's own bytes.
 */
import { sha256Hex } from '../../core/hash';

export interface FetchedBundle {
  readonly bytes: Uint8Array;
  /** The run's name: the file name and the first digits of the content's sha256, so one link opens one run. */
  readonly name: string;
  /** Those digits (12 hex), the workspace's address in the hash (bundle=<digest>). */
  readonly digest: string;
}

export async function fetchBundle(url: string, base: string = location.href): Promise<FetchedBundle> {
  let resolved: URL;
  try {
    resolved = new URL(url, base);
  } catch {
    throw new Error(`?bundle=${url} is not a URL`);
  }
  let response: Response;
  try {
    response = await fetch(resolved);
  } catch (error) {
    throw new Error(
      `could not fetch the bundle ${resolved.href}: the server did not answer, or it does not allow this page ` +
        `to read it (CORS). (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (!response.ok)
    throw new Error(
      `could not fetch the bundle ${resolved.href}: HTTP ${response.status} ${response.statusText}`.trim(),
    );
  const bytes = await gunzipIfGzip(new Uint8Array(await response.arrayBuffer()));
  const hex = (await sha256Hex(bytes)).slice(0, 12);
  const file = decodeURIComponent(resolved.pathname.split('/').pop() || 'bundle').replace(/\.iwb(\.gz)?$/i, '');
  return { bytes, name: `${file} · ${hex}`, digest: hex };
}

/**
 * The bytes inflated when they are gzip (magic 1f 8b, and they inflate): the content is checked, not the name, as a
 * server may already have inflated a `.gz` it sent with Content-Encoding: gzip. A bundle whose header length happens
 * to start with those two bytes does not inflate and is returned as it is (the decoder then judges it).
 */
async function gunzipIfGzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return bytes;
  }
}
