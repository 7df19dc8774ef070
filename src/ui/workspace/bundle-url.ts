/**
 * `?bundle=<url>`: fetch a bundle the page was linked to, with one clear message for each way it can fail (the
 * server cannot be reached or refuses cross-origin reads, an HTTP error, something that is not a bundle — the
 * last one comes from the worker's decoder when it is imported).
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
  const bytes = new Uint8Array(await response.arrayBuffer());
  const hex = (await sha256Hex(bytes)).slice(0, 12);
  const file = decodeURIComponent(resolved.pathname.split('/').pop() || 'bundle').replace(/\.iwb$/i, '');
  return { bytes, name: `${file} · ${hex}`, digest: hex };
}
