/**
 * The CLI's outputs, written so that nothing the user had is lost: an output may not be one of the inputs or the
 * other output (compared by real path, so links and `./` spellings count), every output goes to a temporary file in
 * its own folder and is renamed into place only when every output has been written (both or neither), and a failure
 * removes the temporary files, keeps what was there, and names the file.
 */
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { ownedName, recoverOutputs, signalGuard } from './output-journal';

/** The file system calls outputs use; tests pass one whose writes fail (ENOSPC, EFBIG) instead of filling a disk. */
export interface OutputFs {
  writeFile(file: string, data: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  link(existing: string, alias: string): Promise<void>;
  realpath(file: string): Promise<string>;
  mkdir(dir: string): Promise<void>;
  /** What is at a path (following links), or null when nothing is. */
  kind(file: string): Promise<'file' | 'directory' | 'other' | null>;
}

export const nodeOutputFs: OutputFs = {
  writeFile: async (file, data) => {
    // 'wx': a temporary name that already exists is someone else's file, never ours to replace.
    const handle = await fs.open(file, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename: (from, to) => fs.rename(from, to),
  unlink: (file) => fs.unlink(file),
  link: (existing, alias) => fs.link(existing, alias),
  realpath: (file) => fs.realpath(file),
  mkdir: async (dir) => {
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (error) {
      throw await mkdirCause(dir, error);
    }
  },
  kind: async (file) => {
    const info = await fs.stat(file).catch(() => null);
    return info === null ? null : info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other';
  },
};

/**
 * `mkdir -p` reports ENOENT (the deepest missing folder has no parent) where the real cause is that the nearest
 * existing folder cannot be written: a read-only file system (EROFS) or no permission (EACCES). That cause, with its
 * code, replaces the ENOENT; any other error is returned as it is.
 */
export async function mkdirCause(
  dir: string,
  error: unknown,
  access: (folder: string) => Promise<void> = (folder) => fs.access(folder, fs.constants.W_OK),
): Promise<unknown> {
  if ((error as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT') return error;
  let folder = path.resolve(dir);
  while (path.dirname(folder) !== folder) {
    folder = path.dirname(folder);
    const exists = await fs.stat(folder).then(
      () => true,
      () => false,
    );
    if (!exists) continue;
    return access(folder).then(
      () => error,
      (cause: unknown) => cause,
    );
  }
  return error;
}

/** A refused or failed output: one line naming the file. */
export class OutputError extends Error {
  override readonly name = 'OutputError';
}

export interface PlannedOutput {
  /** The flag that named it (for messages), e.g. "--out". */
  readonly flag: string;
  readonly file: string;
  /** A folder of files (--kronfluence-out) rather than one file. */
  readonly directory?: boolean;
}

const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EFBIG: 'file too large',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'is a directory',
  ENOTDIR: 'a folder on the path is not a folder',
  EIO: 'input/output error',
  ENAMETOOLONG: 'file name too long',
  ENOENT: 'no such file or folder',
  EEXIST: 'already exists',
  EXDEV: 'not on the same file system',
};

/** The longest file name (one path segment) ext4, XFS, btrfs, APFS and NTFS take, in bytes. */
const MAX_NAME_BYTES = 255;

/**
 * `/path/out.iwb: no space left on device (ENOSPC)`. Never Node's own message, which names the path it was given —
 * a temporary name the user never chose (`/proc/.iwb-…tmp`).
 */
export function describeFsError(file: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code) {
    const words =
      ERRNO_WORDS[code] ??
      firstLine((error as Error).message)
        .replace(/^[A-Z]+: /, '')
        .replace(/, \w+ .*$/, '');
    return `${file}: ${words} (${code})`;
  }
  return `${file}: ${firstLine(error instanceof Error ? error.message : String(error))}`;
}

/**
 * The real path a file has or would have: an existing file resolves through its links; a file not there yet
 * resolves through its nearest existing folder, so `dir/link-to-train.jsonl` and `dir/../dir/train.jsonl` match.
 */
export async function resolveReal(file: string, fsys: OutputFs = nodeOutputFs): Promise<string> {
  const absolute = path.resolve(file);
  try {
    return await fsys.realpath(absolute);
  } catch {
    const parent = path.dirname(absolute);
    if (parent === absolute) return absolute;
    return path.join(await resolveReal(parent, fsys), path.basename(absolute));
  }
}

/** Refuses an empty output path, an output that is an input, and two outputs that are one file. */
export async function checkOutputPaths(
  outputs: readonly PlannedOutput[],
  inputs: readonly PlannedOutput[],
  fsys: OutputFs = nodeOutputFs,
): Promise<void> {
  for (const output of outputs) {
    if (output.file.trim() === '')
      throw new OutputError(`${output.flag} '${output.file}': an output needs a file name`);
    // Before the run, not after it: most file systems refuse a name over 255 bytes (ENAMETOOLONG).
    const name = new TextEncoder().encode(path.basename(output.file)).length;
    if (name > MAX_NAME_BYTES)
      throw new OutputError(
        `${output.flag} ${output.file}: the file name is ${name} bytes, over the ${MAX_NAME_BYTES}-byte limit of ` +
          'most file systems',
      );
  }
  await recoverOutputs(outputs.map((o) => path.dirname(path.resolve(o.file))));
  const realInputs = await Promise.all(
    inputs.map(async (input) => ({ ...input, real: await resolveReal(input.file, fsys) })),
  );
  const seen: { flag: string; file: string; real: string }[] = [];
  for (const output of outputs) {
    const real = await resolveReal(output.file, fsys);
    const input = realInputs.find((i) => i.real === real);
    if (input) {
      throw new OutputError(
        `${output.flag} ${output.file}: is the same file as ${input.flag} ${input.file}; ` +
          'refusing to overwrite an input',
      );
    }
    const other = seen.find((s) => s.real === real);
    if (other) throw new OutputError(`${output.flag} ${output.file}: is the same file as ${other.flag} ${other.file}`);
    seen.push({ ...output, real });
    await checkPlace(output, real, fsys);
  }
}

/** Before the run, not after it: the target is not a folder (or, for a folder output, not a file), nor under a file. */
async function checkPlace(output: PlannedOutput, real: string, fsys: OutputFs): Promise<void> {
  const kind = await fsys.kind(real);
  const want = output.directory ? 'directory' : 'file';
  if (kind !== null && kind !== want) {
    const what = kind === 'directory' ? 'a folder' : kind === 'file' ? 'a file' : 'not a regular file';
    throw new OutputError(
      `${output.flag} ${output.file}: is ${what}; give ${output.directory ? 'a folder' : 'a file name'}`,
    );
  }
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    const above = await fsys.kind(dir);
    if (above === 'directory') return;
    if (above !== null) throw new OutputError(`${output.flag} ${output.file}: ${dir} is not a folder`);
    if (path.dirname(dir) === dir) return;
  }
}

export interface OutputContent extends PlannedOutput {
  readonly data: string | Uint8Array;
}

/** Why a write stopped: SIGINT or SIGTERM before the commit point; nothing of the outputs was changed. */
export class OutputInterrupted extends OutputError {}

/**
 * Writes every output or none, even when interrupted. Each goes to a temporary `.iwb-<pid>-<tag>.tmp` beside its
 * target (a short name: a target of 255 characters still fits); when all are complete, one journal listing them is
 * renamed into place — the commit point — and the temporaries are renamed over their targets (a target that existed
 * is first hard-linked to a backup, so that a failed rename can restore the earlier ones); then the journal goes.
 * SIGINT/SIGTERM before the commit point removes the temporaries (the old outputs stay); after it, the renames are
 * finished first (the new outputs, all of them); either way the signal then ends the process. A writer killed
 * outright (SIGKILL, power) is completed or rolled back by the next run (output-journal.ts).
 */
export async function writeOutputsAtomically(
  outputs: readonly OutputContent[],
  fsys: OutputFs = nodeOutputFs,
): Promise<void> {
  const guard = signalGuard();
  const state = { committed: false };
  try {
    await commitOutputs(outputs, fsys, guard, state);
  } finally {
    guard.release(state.committed ? 'every output was written first' : 'no output was changed');
  }
}

async function commitOutputs(
  outputs: readonly OutputContent[],
  fsys: OutputFs,
  guard: ReturnType<typeof signalGuard>,
  state: { committed: boolean },
): Promise<void> {
  const staged: { output: OutputContent; target: string; temp: string; backup: string | null }[] = [];
  const cleanup = async (files: readonly string[]): Promise<void> => {
    for (const file of files) await fsys.unlink(file).catch(() => undefined);
  };
  const stopIfInterrupted = () => {
    if (guard.interrupted()) throw new OutputInterrupted('interrupted before the outputs were written; none changed');
  };
  await recoverOutputs(outputs.map((o) => path.dirname(path.resolve(o.file))));
  let journal: string;
  try {
    for (const output of outputs) {
      const target = path.resolve(output.file);
      const dir = path.dirname(target);
      try {
        await fsys.mkdir(dir);
      } catch (error) {
        throw new OutputError(describeFsError(dir, error));
      }
      const temp = ownedName(dir, 'tmp');
      const entry = { output, target, temp, backup: null as string | null };
      staged.push(entry);
      const bytes = typeof output.data === 'string' ? new TextEncoder().encode(output.data) : output.data;
      try {
        await fsys.writeFile(temp, bytes);
      } catch (error) {
        throw new OutputError(describeFsError(output.file, error));
      }
      stopIfInterrupted();
    }
    await guard.step('staged');
    stopIfInterrupted();
    for (const entry of staged) entry.backup = ownedName(path.dirname(entry.target), 'bak');
    // The commit point: once the journal has its name, the next run completes these renames if this one cannot.
    const dir = path.dirname(staged[0]?.target ?? '.');
    const pending = ownedName(dir, 'tmp');
    const text = JSON.stringify({ entries: staged.map(({ target, temp, backup }) => ({ target, temp, backup })) });
    try {
      await fsys.writeFile(pending, new TextEncoder().encode(text));
      journal = ownedName(dir, 'journal');
      await fsys.rename(pending, journal);
      state.committed = true;
    } catch (error) {
      await fsys.unlink(pending).catch(() => undefined);
      throw new OutputError(describeFsError(staged[0]?.output.file ?? dir, error));
    }
  } catch (error) {
    await cleanup(staged.map((s) => s.temp));
    throw error;
  }
  await guard.step('journaled');
  const done: typeof staged = [];
  try {
    for (const [i, entry] of staged.entries()) {
      // No backup when there is no old file (ENOENT) or the file system has no hard links: nothing to restore then.
      entry.backup = await fsys.link(entry.target, entry.backup!).then(
        () => entry.backup,
        () => null,
      );
      try {
        await fsys.rename(entry.temp, entry.target);
      } catch (error) {
        throw new OutputError(describeFsError(entry.output.file, error));
      }
      done.push(entry);
      await guard.step(`renamed-${i + 1}`);
    }
  } catch (error) {
    for (const entry of done.reverse()) {
      if (entry.backup) await fsys.rename(entry.backup, entry.target).catch(() => undefined);
      else await fsys.unlink(entry.target).catch(() => undefined);
    }
    await cleanup(staged.flatMap((s) => [s.temp, ...(s.backup && !done.includes(s) ? [s.backup] : [])]));
    await cleanup([journal]);
    state.committed = false;
    throw error;
  }
  await cleanup([journal]);
  await cleanup(staged.flatMap((s) => (s.backup ? [s.backup] : [])));
  await guard.step('committed');
}

/**
 * What was written, for the user: `wrote --out r.iwb (123456 bytes)`; the files of a folder output (--csv,
 * --kronfluence-out) as one line with their folder, count and total size.
 */
export function writtenLines(outputs: readonly OutputContent[]): string[] {
  const size = (o: OutputContent) =>
    typeof o.data === 'string' ? new TextEncoder().encode(o.data).length : o.data.length;
  const lines: string[] = [];
  const folders = new Map<string, { dir: string; count: number; bytes: number }>();
  for (const output of outputs) {
    if (output.flag !== '--kronfluence-out' && output.flag !== '--csv') {
      lines.push(`wrote ${output.flag} ${output.file} (${size(output)} bytes)`);
      continue;
    }
    const dir = path.dirname(output.file);
    const folder = folders.get(output.flag);
    folders.set(
      output.flag,
      folder
        ? { dir: commonFolder(folder.dir, dir), count: folder.count + 1, bytes: folder.bytes + size(output) }
        : { dir, count: 1, bytes: size(output) },
    );
  }
  for (const [flag, { dir, count, bytes }] of folders)
    lines.push(`wrote ${flag} ${dir} (${count} file${count === 1 ? '' : 's'}, ${bytes} bytes)`);
  return lines;
}

function commonFolder(a: string, b: string): string {
  const x = a.split(path.sep);
  const y = b.split(path.sep);
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return x.slice(0, i).join(path.sep) || path.sep;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}
