/**
 * A tokenizer.json checked before @huggingface/tokenizers sees it. The library trusts its input: a `Sequence` nested
 * 20,000 deep overflows its stack, an id of 2³¹ makes it allocate for 2³¹ tokens, a merge naming a token that is not
 * in the vocabulary (or `__proto__`) ends in "Cannot read properties of undefined", an unknown model type is guessed
 * at, and a pre-tokenizer regex with nested quantifiers backtracks for minutes on 40 characters. Each is refused
 * here with one message naming the field (the caller adds the file name).
 */

export class TokenizerFormatError extends Error {
  override readonly name = 'TokenizerFormatError';
}

/** Deeper than any real tokenizer.json (about 6 levels); the library recurses per level. */
export const MAX_TOKENIZER_DEPTH = 32;
/** Largest token id accepted: 2²⁴ − 1, above every published vocabulary (≈ 260 k) and far below 2³¹. */
export const MAX_TOKEN_ID = 2 ** 24 - 1;

/** The models the library implements (a WordLevel file would be guessed at, as an unknown type is). */
const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram'];
/** The component types the library implements, per section (its own `switch`es). */
const COMPONENT_TYPES: Readonly<Record<string, { types: readonly string[]; children: string }>> = {
  normalizer: {
    types: [
      'BertNormalizer',
      'Precompiled',
      'Sequence',
      'Replace',
      'NFC',
      'NFD',
      'NFKC',
      'NFKD',
      'Strip',
      'StripAccents',
      'Lowercase',
      'Prepend',
    ],
    children: 'normalizers',
  },
  pre_tokenizer: {
    types: [
      'BertPreTokenizer',
      'Sequence',
      'Whitespace',
      'WhitespaceSplit',
      'Metaspace',
      'ByteLevel',
      'Split',
      'Punctuation',
      'Digits',
      'Replace',
      'FixedLength',
    ],
    children: 'pretokenizers',
  },
  post_processor: {
    types: ['TemplateProcessing', 'ByteLevel', 'BertProcessing', 'RobertaProcessing', 'Sequence'],
    children: 'processors',
  },
  decoder: {
    types: [
      'ByteLevel',
      'WordPiece',
      'Metaspace',
      'BPEDecoder',
      'CTC',
      'Sequence',
      'Replace',
      'Fuse',
      'Strip',
      'ByteFallback',
    ],
    children: 'decoders',
  },
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 30 ? v.slice(0, 30) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function fail(field: string, problem: string): never {
  throw new TokenizerFormatError(`${field}: ${problem}`);
}

/** Throws a TokenizerFormatError naming the first field at fault; returns when the structure is sound. */
export function checkTokenizerJson(json: unknown): void {
  if (!isObject(json)) fail('tokenizer', `expected a JSON object, got ${describe(json)}`);
  checkDepth(json);
  if (!isObject(json.model))
    fail(
      'model',
      `no "model" section (is this a Hugging Face tokenizer.json?): expected an object, got ${describe(json.model)}`,
    );
  const vocab = checkModel(json.model);
  const added = checkAddedTokens(json.added_tokens);
  // The library indexes its vocabulary by id: a gap (an id no token has) is an undefined token in it.
  const ids = new Set([...vocab.values(), ...added]);
  for (let id = 0; id < ids.size; id++)
    if (!ids.has(id))
      fail('model.vocab', `no token has id ${id}; ids run from 0 without gaps (added_tokens may fill them)`);
  for (const [section, spec] of Object.entries(COMPONENT_TYPES)) checkComponent(json[section], section, spec);
}

/** Without recursion (the point is to survive what would overflow a stack): depth, and no `__proto__` key. */
function checkDepth(root: Json): void {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: root, depth: 0, path: 'tokenizer' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_TOKENIZER_DEPTH) fail(path, `nested deeper than ${MAX_TOKENIZER_DEPTH} levels`);
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        if (typeof item === 'object' && item !== null)
          stack.push({ value: item, depth: depth + 1, path: `${path}[${i}]` });
      });
      continue;
    }
    for (const key of Object.keys(value)) {
      // A vocabulary may hold any token text; elsewhere `__proto__` is an attack on object lookups.
      if (key === '__proto__' && path !== 'model.vocab') fail(`${path}.${key}`, 'this key is not allowed');
      const child = (value as Json)[key];
      if (typeof child === 'object' && child !== null)
        stack.push({ value: child, depth: depth + 1, path: `${path}.${key}` });
    }
  }
}

function checkId(id: unknown, field: string): number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_TOKEN_ID)
    fail(field, `expected a token id, an integer from 0 to ${MAX_TOKEN_ID}, got ${describe(id)}`);
  return id;
}

/** The model section; returns the vocabulary (token → id) for the merge checks. */
function checkModel(model: Json): Map<string, number> {
  const type = model.type;
  if (type !== undefined && (typeof type !== 'string' || !MODEL_TYPES.includes(type)))
    fail('model.type', `${describe(type)} is not a tokenizer model this workbench reads (${MODEL_TYPES.join(', ')})`);
  const vocab = new Map<string, number>();
  const owner = new Map<number, string>();
  const add = (token: string, id: number, field: string) => {
    if (vocab.has(token)) fail(field, `token ${JSON.stringify(token)} is listed twice`);
    const other = owner.get(id);
    if (other !== undefined)
      fail(field, `id ${id} is given to both ${JSON.stringify(other)} and ${JSON.stringify(token)}`);
    vocab.set(token, id);
    owner.set(id, token);
  };
  if (type === 'Unigram' || (type === undefined && Array.isArray(model.vocab))) {
    if (!Array.isArray(model.vocab))
      fail('model.vocab', `expected a list of [token, score] pairs, got ${describe(model.vocab)}`);
    model.vocab.forEach((entry: unknown, i) => {
      const field = `model.vocab[${i}]`;
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || !Number.isFinite(entry[1]))
        fail(field, `expected a [token, score] pair with a finite score, got ${describe(entry)}`);
      if (i > MAX_TOKEN_ID) fail(field, `more than ${MAX_TOKEN_ID + 1} tokens`);
      add(entry[0] as string, i, field);
    });
    return vocab;
  }
  if (!isObject(model.vocab))
    fail('model.vocab', `expected an object mapping each token to its id, got ${describe(model.vocab)}`);
  for (const token of Object.keys(model.vocab)) {
    const field = `model.vocab[${JSON.stringify(token)}]`;
    add(token, checkId(model.vocab[token], field), field);
  }
  if (type === 'BPE' || (type === undefined && model.merges !== undefined)) checkMerges(model, vocab);
  return vocab;
}

/**
 * Each merge joins two tokens of the vocabulary into a third one that is in it too (as the Rust library's BPE
 * builder requires; with a `continuing_subword_prefix`, the second token's prefix is dropped in the join).
 */
function checkMerges(model: Json, vocab: ReadonlyMap<string, number>): void {
  const merges = model.merges ?? [];
  if (!Array.isArray(merges)) fail('model.merges', `expected a list, got ${describe(merges)}`);
  const prefix = typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '';
  merges.forEach((merge: unknown, i) => {
    const field = `model.merges[${i}]`;
    let pair: unknown[];
    if (typeof merge === 'string') pair = merge.split(' ');
    else if (Array.isArray(merge)) pair = merge;
    else fail(field, `expected "a b" or ["a", "b"], got ${describe(merge)}`);
    if (pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
      fail(field, `expected two tokens, got ${describe(merge)}`);
    const [a, b] = pair as [string, string];
    for (const part of [a, b]) if (!vocab.has(part)) fail(field, `${JSON.stringify(part)} is not in model.vocab`);
    const joined = a + (prefix && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    if (!vocab.has(joined)) fail(field, `merges into ${JSON.stringify(joined)}, which is not in model.vocab`);
  });
}

/** The added tokens' ids. */
function checkAddedTokens(added: unknown): Set<number> {
  if (added === undefined || added === null) return new Set();
  if (!Array.isArray(added)) fail('added_tokens', `expected a list, got ${describe(added)}`);
  const ids = new Set<number>();
  const contents = new Set<string>();
  added.forEach((token: unknown, i) => {
    const field = `added_tokens[${i}]`;
    if (!isObject(token)) fail(field, `expected an object, got ${describe(token)}`);
    const id = checkId(token.id, `${field}.id`);
    if (typeof token.content !== 'string' || token.content === '')
      fail(`${field}.content`, `expected the token's text, got ${describe(token.content)}`);
    if (ids.has(id)) fail(`${field}.id`, `id ${id} is given to two added tokens`);
    if (contents.has(token.content)) fail(`${field}.content`, `${JSON.stringify(token.content)} is added twice`);
    ids.add(id);
    contents.add(token.content);
  });
  return ids;
}

function checkComponent(node: unknown, field: string, spec: { types: readonly string[]; children: string }): void {
  if (node === undefined || node === null) return;
  if (!isObject(node)) fail(field, `expected an object or null, got ${describe(node)}`);
  if (typeof node.type !== 'string' || !spec.types.includes(node.type))
    fail(`${field}.type`, `${describe(node.type)} is not one of ${spec.types.join(', ')}`);
  const pattern = node.pattern;
  if (isObject(pattern) && pattern.Regex !== undefined) {
    if (typeof pattern.Regex !== 'string')
      fail(`${field}.pattern.Regex`, `expected a string, got ${describe(pattern.Regex)}`);
    const problem = regexProblem(pattern.Regex);
    if (problem) fail(`${field}.pattern.Regex`, problem);
  }
  if (node.type === 'Sequence') {
    const children = node[spec.children];
    if (!Array.isArray(children)) fail(`${field}.${spec.children}`, `expected a list, got ${describe(children)}`);
    children.forEach((child: unknown, i) => checkComponent(child, `${field}.${spec.children}[${i}]`, spec));
  }
}

/**
 * Why a pattern could backtrack catastrophically, or null. JavaScript's regex engine backtracks, so a repeated group
 * whose body can itself repeat or choose — `(a+)+`, `(a*)*`, `(a|aa)+`, `(?:x+y?)*` — takes time exponential in the
 * input on a near-miss (`a`×38 + `!`). Real pre-tokenizers (GPT-2, LLaMA 3, Qwen) repeat only single atoms and
 * character classes, so such groups are refused, not timed.
 */
export function regexProblem(pattern: string): string | null {
  // Per open group: whether its body holds a quantifier (or a repeated group) or a top-level alternation.
  const groups: { repeats: boolean; alternates: boolean }[] = [{ repeats: false, alternates: false }];
  let closed: { repeats: boolean; alternates: boolean } | null = null;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const group = groups[groups.length - 1]!;
    const quantifier = c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d*,?\d*\}/.test(pattern.slice(i)));
    if (quantifier) {
      const unbounded = c === '*' || c === '+' || (c === '{' && /^\{\d*,\}/.test(pattern.slice(i)));
      if (closed && (closed.repeats || closed.alternates) && (unbounded || c === '{'))
        return `nested quantifier at character ${i} (a repeated group that itself repeats or alternates, as in (a+)+): its matching time can grow exponentially`;
      group.repeats = group.repeats || c !== '?' || closed !== null;
      if (c === '{') i = pattern.indexOf('}', i);
      if (pattern[i + 1] === '?' || pattern[i + 1] === '+') i++; // lazy or possessive modifier
      closed = null;
      continue;
    }
    if (closed) {
      group.repeats ||= closed.repeats;
      closed = null;
    }
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // A character class: skip to its end (escapes and a leading ']' included).
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j;
      continue;
    }
    if (c === '(') {
      groups.push({ repeats: false, alternates: false });
      if (pattern[i + 1] === '?') i++; // (?: (?= (?! (?< (?i: — not a quantifier
      continue;
    }
    if (c === ')' && groups.length > 1) {
      closed = groups.pop()!;
      continue;
    }
    if (c === '|') group.alternates = true;
  }
  return null;
}
