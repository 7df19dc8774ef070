/**
 * The precomputed full demo (issue 20 §2): where the page finds it and what its manifest (public/demo/full-demo.json)
 * says. The bundle is built by `npm run demo:full-bundle` (src/cli/demo-bundle.ts); the page offers it on a first
 * visit and opens it as a `?bundle=` link, without computing.
 */

/** The page's copy of the full demo bundle, gzip-compressed, relative to the page (served from public/demo/). */
export const FULL_DEMO_BUNDLE_PATH = 'demo/full-demo.iwb.gz';
/** Its manifest, beside it: small, precached with the page, so the offer can say the size before any download. */
export const FULL_DEMO_MANIFEST_PATH = 'demo/full-demo.json';

export interface FullDemoManifest {
  /**
   * The page's copy as downloaded (gzip): its file name beside the manifest, size and sha256; and the size of the
   * bundle it inflates to.
   */
  readonly bundle: {
    readonly file: string;
    readonly bytes: number;
    readonly sha256: string;
    readonly uncompressedBytes: number;
  };
  readonly queries: number;
  readonly train: number;
  readonly strategy: string;
  readonly backend: string;
  readonly seed: number;
  /** The command that built it and the git commit it was built at. */
  readonly command: string;
  readonly commit: string;
  /** What the page's copy leaves out of the exact build, and how its scores are stored. */
  readonly pageCopy: string;
  /** sha256 of every tensor of the exact (float64) build: a rebuild gives the same. */
  readonly buildTensors: Readonly<Record<string, string>>;
  /** sha256 of every tensor of the page's copy. */
  readonly pageTensors: Readonly<Record<string, string>>;
}

/** Parses the manifest, naming the first field that is missing or of the wrong type (`where`: the file or URL). */
export function parseFullDemoManifest(text: string, where: string): FullDemoManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: not JSON (${(error as Error).message})`, { cause: error });
  }
  const fail = (field: string, expected: string): never => {
    throw new Error(`${where}: field "${field}" should be ${expected}`);
  };
  const object = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(field, 'an object');
  const root = object(value, '(root)');
  const bundle = object(root.bundle, 'bundle');
  const count = (v: unknown, field: string): number =>
    Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : fail(field, 'a non-negative integer');
  const string = (v: unknown, field: string): string => (typeof v === 'string' ? v : fail(field, 'a string'));
  const hashes = (v: unknown, field: string): Record<string, string> => {
    const entries = Object.entries(object(v, field));
    for (const [name, hash] of entries)
      if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) fail(`${field}.${name}`, 'a sha256 (64 hex)');
    return Object.fromEntries(entries) as Record<string, string>;
  };
  const file = string(bundle.file, 'bundle.file');
  if (!/^[\w.-]+\.iwb(\.gz)?$/.test(file)) fail('bundle.file', 'a file name ending in .iwb or .iwb.gz');
  const sha256 = string(bundle.sha256, 'bundle.sha256');
  if (!/^[0-9a-f]{64}$/.test(sha256)) fail('bundle.sha256', 'a sha256 (64 hex)');
  return {
    bundle: {
      file,
      bytes: count(bundle.bytes, 'bundle.bytes'),
      sha256,
      uncompressedBytes: count(bundle.uncompressedBytes, 'bundle.uncompressedBytes'),
    },
    queries: count(root.queries, 'queries'),
    train: count(root.train, 'train'),
    strategy: string(root.strategy, 'strategy'),
    backend: string(root.backend, 'backend'),
    seed: count(root.seed, 'seed'),
    command: string(root.command, 'command'),
    commit: string(root.commit, 'commit'),
    pageCopy: string(root.pageCopy, 'pageCopy'),
    buildTensors: hashes(root.buildTensors, 'buildTensors'),
    pageTensors: hashes(root.pageTensors, 'pageTensors'),
  };
}

/** "12.3 MB" (decimal megabytes, as a download size is usually said). */
export function formatDownloadSize(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}
