/**
 * Where a directory of files comes from, kept apart from the formats that read it: a Node directory
 * (node-file-source.ts), a browser FileList from a directory picker (`<input webkitdirectory>`) or drag-and-drop,
 * or bytes in memory. Sizes are known before anything is read, so a caller can refuse a file before allocating it.
 */

export interface FileSource {
  /** Relative, '/'-separated paths of every file. */
  readonly paths: readonly string[];
  size(path: string): number;
  read(path: string): Promise<Uint8Array>;
}

export function memoryFileSource(files: ReadonlyMap<string, Uint8Array>): FileSource {
  return {
    paths: [...files.keys()],
    size: (path) => requireFile(files, path).byteLength,
    read: async (path) => requireFile(files, path),
  };
}

function requireFile<T>(files: ReadonlyMap<string, T>, path: string): T {
  const file = files.get(path);
  if (file === undefined) throw new Error(`no file '${path}' in the selection`);
  return file;
}

/**
 * Files picked in a browser. With `webkitdirectory` each File carries `webkitRelativePath`
 * ("picked-dir/factors_ekfac/lambda_matrix.safetensors"); the picked directory's own name is dropped.
 */
export function browserFileSource(files: Iterable<File>): FileSource {
  const byPath = new Map<string, File>();
  for (const file of files) {
    // A browser File has it; Node's File type (the CLI shares this module) does not declare it.
    const relative = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    const parts = relative.split('/');
    byPath.set(parts.length > 1 ? parts.slice(1).join('/') : relative, file);
  }
  return {
    paths: [...byPath.keys()],
    size: (path) => requireFile(byPath, path).size,
    read: async (path) => new Uint8Array(await requireFile(byPath, path).arrayBuffer()),
  };
}

/** The directory part of a '/'-separated path ('' at the top). */
export function directoryOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
