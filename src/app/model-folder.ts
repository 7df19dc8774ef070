/**
 * A model folder as people download it from the Hugging Face Hub (transformers.js / Optimum layout):
 *   config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
 *   onnx/model.onnx (+ model.onnx_data or model.onnx.data), onnx/model_fp16.onnx, onnx/model_q4.onnx, …
 * (or the .onnx files at the top, as Optimum writes them). Which variant runs is chosen here, the same for the CLI
 * (`--model-dir DIR [--variant NAME]`) and the page (a picked folder): float32 before float16 before quantized, a
 * model before a decoder without past before a merged decoder (which the workbench refuses: it asks for
 * use_cache_branch); the choice is said, and another is taken by name. Paths are relative to the folder and never
 * lead out of it.
 */
import { InputError } from './input-error';

/** The variants' precision, as their names say (transformers.js's dtype suffixes). */
export type VariantPrecision = 'float32' | 'float16' | 'quantized';

export interface ModelVariant {
  /** The file name without `.onnx`: `model`, `model_fp16`, `decoder_model_merged_q4`. */
  readonly name: string;
  /** The path inside the folder: `onnx/model_q4.onnx`. */
  readonly path: string;
  readonly precision: VariantPrecision;
  /** What the suffix says, in words ('4-bit blocks (MatMulNBits)', 'float16', …). */
  readonly description: string;
}

export interface FolderChoice {
  readonly variant: ModelVariant;
  readonly variants: readonly ModelVariant[];
  /** One sentence for the user: what was chosen, among what, and how to choose another. */
  readonly note: string;
  /** Paths inside the folder of the files beside the model (present or null). */
  readonly tokenizer: string | null;
  readonly tokenizerConfig: string | null;
  readonly config: string | null;
  readonly generationConfig: string | null;
}

/** Suffix → (rank, precision, words); lower rank is preferred. Names from transformers.js's dtype map. */
const SUFFIXES: readonly (readonly [string, number, VariantPrecision, string])[] = [
  ['', 0, 'float32', 'float32'],
  ['_fp32', 0, 'float32', 'float32'],
  ['_fp16', 1, 'float16', 'float16, cast to float32 on load'],
  ['_quantized', 2, 'quantized', '8-bit (dequantized on load)'],
  ['_int8', 2, 'quantized', '8-bit (dequantized on load)'],
  ['_uint8', 2, 'quantized', '8-bit (dequantized on load)'],
  ['_q8', 2, 'quantized', '8-bit (dequantized on load)'],
  ['_q4', 3, 'quantized', '4-bit blocks (dequantized on load)'],
  ['_q4f16', 4, 'quantized', '4-bit blocks on float16 (dequantized on load)'],
  ['_bnb4', 5, 'quantized', '4-bit bitsandbytes (refused: MatMulBnb4 is not handled)'],
];

/** Bases, preferred first: a whole model, a decoder without past, then the merged decoder (refused by the feeds). */
const BASES = ['model', 'decoder_model', 'decoder_with_past_model', 'decoder_model_merged'];

function classify(path: string): (ModelVariant & { readonly rank: number }) | null {
  const file = path.split('/').pop()!;
  if (!file.endsWith('.onnx')) return null;
  const name = file.slice(0, -'.onnx'.length);
  let best: { base: number; suffix: (typeof SUFFIXES)[number] } | null = null;
  BASES.forEach((base, b) => {
    for (const suffix of SUFFIXES) {
      if (name === base + suffix[0] && (!best || base.length > BASES[best.base]!.length)) best = { base: b, suffix };
    }
  });
  if (!best) return { name, path, precision: 'float32', description: 'not a name the Hub uses', rank: 1000 };
  const { base, suffix } = best as { base: number; suffix: (typeof SUFFIXES)[number] };
  return { name, path, precision: suffix[2], description: suffix[3], rank: base * 100 + suffix[1] };
}

/** Whether a relative path stays inside the folder (no absolute path, no `..`, no empty or `.` parts). */
export function insideFolder(path: string): boolean {
  if (path === '' || path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.includes('\\') || path.includes('\0'))
    return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/**
 * The variant to run among the folder's files (relative paths with '/'), `wanted` by name when given. Refusals name
 * the folder and list what it holds. `chooseWith` says in the note how to choose another (a flag, or the page's list).
 */
export function chooseVariant(
  folder: string,
  files: readonly string[],
  wanted?: string,
  chooseWith = 'choose with --variant NAME',
): FolderChoice {
  for (const file of files) {
    if (!insideFolder(file)) throw new InputError(`${folder}: '${file}' is not a path inside the folder`);
  }
  // The ONNX files of onnx/ (transformers.js), else those at the top (Optimum).
  const nested = files.filter((f) => /^onnx\/[^/]+\.onnx$/.test(f));
  const candidates = nested.length > 0 ? nested : files.filter((f) => /^[^/]+\.onnx$/.test(f));
  const variants = candidates
    .map(classify)
    .filter((v) => v !== null)
    .sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));
  if (variants.length === 0)
    throw new InputError(
      `${folder}: no .onnx model in the folder or in its onnx/ folder (a model folder has onnx/model.onnx)`,
    );
  const names = variants.map((v) => v.name);
  let chosen = variants[0]!;
  if (wanted !== undefined) {
    const match = variants.find((v) => v.name === wanted || v.name === wanted.replace(/\.onnx$/, ''));
    if (!match) throw new InputError(`${folder}: no variant '${wanted}'; the folder has ${names.join(', ')}`);
    chosen = match;
  }
  const present = (name: string) => (files.includes(name) ? name : null);
  const { rank: _rank, ...variant } = chosen;
  const others = names.filter((n) => n !== chosen.name);
  const note =
    `${folder}: ${wanted === undefined ? 'chose' : 'using'} ${chosen.path} (${chosen.description})` +
    (others.length ? `; also there: ${others.join(', ')} (${chooseWith})` : '');
  return {
    variant,
    variants: variants.map(({ rank: _r, ...v }) => v),
    note,
    tokenizer: present('tokenizer.json'),
    tokenizerConfig: present('tokenizer_config.json'),
    config: present('config.json'),
    generationConfig: present('generation_config.json'),
  };
}

/** What config.json says about size, when it says it (for listings and the context check). */
export interface FolderConfig {
  readonly modelType: string | null;
  readonly vocabSize: number | null;
  readonly maxPositions: number | null;
}

export function readFolderConfig(file: string, text: string): FolderConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new InputError(`${file}: not a JSON object`);
  const record = json as Record<string, unknown>;
  const count = (key: string) => {
    const v = record[key];
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null;
  };
  return {
    modelType: typeof record.model_type === 'string' ? record.model_type : null,
    vocabSize: count('vocab_size'),
    maxPositions: count('max_position_embeddings') ?? count('n_positions'),
  };
}
