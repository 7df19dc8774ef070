/**
 * `--model-dir DIR [--variant NAME]`: a model folder as downloaded (app/model-folder.ts chooses the variant). Every
 * file of the folder and of its onnx/ folder — the ONNX files, their external data, tokenizer.json,
 * tokenizer_config.json — must resolve (symbolic links followed) to a path inside the folder; one that leads out is
 * refused, naming it.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputLimitError } from '../data/limits';
import { chooseVariant, type FolderChoice } from '../app/model-folder';

export interface ModelDirFiles {
  readonly choice: FolderChoice;
  /** Paths on disk (joined to the folder). */
  readonly model: string;
  readonly tokenizer: string | null;
  readonly tokenizerConfig: string | null;
  readonly config: string | null;
}

async function listing(dir: string): Promise<string[]> {
  const top = await readdir(dir, { withFileTypes: true });
  const files = top.filter((e) => !e.isDirectory()).map((e) => e.name);
  if (top.some((e) => e.isDirectory() && e.name === 'onnx')) {
    for (const e of await readdir(path.join(dir, 'onnx'), { withFileTypes: true }))
      if (!e.isDirectory()) files.push(`onnx/${e.name}`);
  }
  return files;
}

/** Refuses a folder path that resolves outside the folder (a symbolic link out of it). */
async function checkInside(flag: string, root: string, dir: string, relative: string): Promise<string> {
  const file = path.join(dir, ...relative.split('/'));
  let real;
  try {
    real = await realpath(file);
  } catch {
    throw new InputLimitError(`${flag} ${dir}: '${relative}' does not exist`);
  }
  if (real !== root && !real.startsWith(root + path.sep))
    throw new InputLimitError(`${flag} ${dir}: '${relative}' leads out of the folder (to ${real}); refused`);
  return file;
}

export async function readModelDir(dir: string, variant: string | undefined): Promise<ModelDirFiles> {
  const flag = '--model-dir';
  let root;
  try {
    if (!(await stat(dir)).isDirectory()) throw new InputLimitError(`${flag} ${dir}: is not a folder`);
    root = await realpath(dir);
  } catch (error) {
    if (error instanceof InputLimitError) throw error;
    throw new InputLimitError(`${flag} ${dir}: no such folder`);
  }
  let choice: FolderChoice;
  let files: string[];
  try {
    files = await listing(dir);
    choice = chooseVariant(dir, files, variant);
  } catch (error) {
    throw new InputLimitError((error as Error).message);
  }
  // Every file of the folder and of onnx/ (so the external data beside the model too) must stay inside it; the
  // data locations themselves are kept beside the model by readModelFiles (no '..', no absolute path).
  for (const file of files) await checkInside(flag, root, dir, file);
  const model = path.join(dir, ...choice.variant.path.split('/'));
  const optional = async (relative: string | null) =>
    relative === null ? null : await checkInside(flag, root, dir, relative);
  return {
    choice,
    model,
    tokenizer: await optional(choice.tokenizer),
    tokenizerConfig: await optional(choice.tokenizerConfig),
    config: await optional(choice.config),
  };
}

/**
 * The run's arguments with --model-dir resolved: --model becomes the chosen ONNX file and --tokenizer, unless given,
 * the folder's tokenizer.json. The choice is said through `say` (stderr; not with --quiet).
 */
export async function resolveModelDir<
  T extends { modelDir?: string; variant?: string; model?: string; tokenizer?: string },
>(args: T, say: (line: string) => void): Promise<T & { folder?: ModelDirFiles }> {
  if (args.modelDir === undefined) return args;
  const folder = await readModelDir(args.modelDir, args.variant);
  say(folder.choice.note);
  // The folder's tokenizer_config.json (chat template, special tokens) goes with the folder's tokenizer only.
  const own = args.tokenizer === undefined;
  return {
    ...args,
    model: folder.model,
    tokenizer: args.tokenizer ?? folder.tokenizer ?? undefined,
    ...(own && folder.tokenizerConfig !== null && { tokenizerConfig: folder.tokenizerConfig }),
    folder,
  };
}
