/**
 * The lab's whole state as a URL query string, so a teacher can hand out a link: model, data seed, the training
 * points or the tiny LM's sentences (when edited), the query, the method that colours the plot, damping δ, the
 * Fisher, how leave-one-out retrains, and what the colours show. Parsing names the parameter and the value it could
 * not read.
 */
import { LM_L2, LM_QUERIES, LM_TRAIN, normaliseSentence, tokenize } from './lm-data';
import { METHODS, type Fisher, type LabInputs, type LmInputs, type LooStart, type Method } from './results';
import { MODELS, TEACH_MODELS, type TeachModel } from './models';
import type { Example } from './network';

/** 'query': influence of each point on the selected test point; 'self': each point's self-influence. */
export type ColourBy = 'query' | 'self';

/** The 2-D models, and 'lm': the tiny bigram language model on fixed sentences. */
export type LabModel = TeachModel | 'lm';
export const LAB_MODELS: readonly LabModel[] = [...TEACH_MODELS, 'lm'];

export interface LabState {
  readonly model: LabModel;
  readonly seed: number;
  /** null: the seed's generated points (always null for the LM). */
  readonly points: readonly Example[] | null;
  /** The tiny LM's training sentences; null: its defaults (LM_TRAIN), and always null for the 2-D models. */
  readonly sentences: readonly string[] | null;
  readonly query: number;
  readonly method: Method | 'loo';
  readonly damping: number;
  readonly fisher: Fisher;
  readonly loo: LooStart;
  readonly colour: ColourBy;
}

export const DEFAULT_SEED = 3;

export function defaultState(model: LabModel = 'logistic'): LabState {
  return {
    model,
    seed: DEFAULT_SEED,
    points: null,
    sentences: null,
    query: 0,
    method: 'ekfac',
    damping: model === 'lm' ? LM_L2 : MODELS[model].l2,
    fisher: 'true',
    loo: 'warm',
    colour: 'query',
  };
}

function fail(name: string, value: string, expected: string): never {
  throw new Error(`lab URL: parameter "${name}" is "${value}"; expected ${expected}`);
}

function choice<T extends string>(params: URLSearchParams, name: string, options: readonly T[], fallback: T): T {
  const value = params.get(name);
  if (value === null) return fallback;
  if (!(options as readonly string[]).includes(value)) fail(name, value, `one of ${options.join(', ')}`);
  return value as T;
}

function number(
  params: URLSearchParams,
  name: string,
  fallback: number,
  check: (v: number) => boolean,
  expected: string,
): number {
  const value = params.get(name);
  if (value === null) return fallback;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || !check(parsed)) fail(name, value, expected);
  return parsed;
}

/** Points as "x:y:c" (classifiers) or "x:y" (regression), joined by "_", three decimals. */
export function encodePoints(model: TeachModel, points: readonly Example[]): string {
  const f = (v: number) => String(Math.round(v * 1000) / 1000);
  return points
    .map((p) => (model === 'linear' ? `${f(p.x[0])}:${f(p.y)}` : `${f(p.x[0])}:${f(p.x[1])}:${p.y}`))
    .join('_');
}

export function decodePoints(model: TeachModel, text: string): Example[] {
  return text.split('_').map((item, i) => {
    const parts = item.split(':').map(Number);
    const arity = model === 'linear' ? 2 : 3;
    if (parts.length !== arity || parts.some((v) => !Number.isFinite(v))) {
      fail('pts', item, `point ${i + 1} as ${model === 'linear' ? 'x:y' : 'x:y:class'} numbers`);
    }
    if (model === 'linear') return { x: [parts[0]], y: parts[1] };
    if (parts[2] !== 0 && parts[2] !== 1) fail('pts', item, `point ${i + 1} with class 0 or 1`);
    return { x: [parts[0], parts[1]], y: parts[2] };
  });
}

/** At most this many sentences in a URL: each adds a leave-one-out retraining. */
export const MAX_SENTENCES = 40;

/** Sentences as "words.words.…": the vocabulary has no '.', and spaces travel as '+'. */
export function encodeSentences(sentences: readonly string[]): string {
  return sentences.join('.');
}

export function decodeSentences(text: string): string[] {
  const sentences = text.split('.').map(normaliseSentence);
  if (sentences.length < 2 || sentences.length > MAX_SENTENCES)
    fail('sents', text, `2 to ${MAX_SENTENCES} sentences separated by "."`);
  sentences.forEach((sentence, i) => {
    try {
      tokenize(sentence);
    } catch (error) {
      fail('sents', sentence, `sentence ${i + 1} in the vocabulary (${(error as Error).message})`);
    }
  });
  return sentences;
}

export function parseState(search: string): LabState {
  const params = new URLSearchParams(search);
  const model = choice(params, 'model', LAB_MODELS, 'logistic');
  const base = defaultState(model);
  const seed = number(params, 'seed', base.seed, (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 31, 'an integer ≥ 0');
  const pts = params.get('pts');
  if (model === 'lm' && pts) fail('pts', pts, 'no points: the tiny LM trains on fixed sentences');
  const points = model === 'lm' || pts === null || pts === '' ? null : decodePoints(model, pts);
  if (points && points.length < 2) fail('pts', pts!, 'at least 2 points');
  const sents = params.get('sents');
  if (model !== 'lm' && sents) fail('sents', sents, 'no sentences: only the tiny LM trains on sentences');
  const sentences = model === 'lm' && sents ? decodeSentences(sents) : null;
  const testCount = model === 'lm' ? LM_QUERIES.length : MODELS[model].generate(seed).test.length;
  return {
    model,
    seed,
    points,
    sentences,
    query: number(
      params,
      'q',
      0,
      (v) => Number.isInteger(v) && v >= 0 && v < testCount,
      `an integer in [0, ${testCount})`,
    ),
    method: choice(params, 'method', [...METHODS, 'loo'] as const, base.method),
    damping: number(params, 'damping', base.damping, (v) => v > 0 && v <= 10, 'a number in (0, 10]'),
    fisher: choice(params, 'fisher', ['true', 'empirical'] as const, base.fisher),
    loo: choice(params, 'loo', ['warm', 'scratch'] as const, base.loo),
    colour: choice(params, 'colour', ['query', 'self'] as const, base.colour),
  };
}

export function serializeState(state: LabState): string {
  const base = defaultState(state.model);
  const params = new URLSearchParams({ model: state.model, seed: String(state.seed) });
  if (state.query !== 0) params.set('q', String(state.query));
  if (state.method !== base.method) params.set('method', state.method);
  if (state.damping !== base.damping) params.set('damping', String(state.damping));
  if (state.fisher !== base.fisher) params.set('fisher', state.fisher);
  if (state.loo !== base.loo) params.set('loo', state.loo);
  if (state.colour !== base.colour) params.set('colour', state.colour);
  if (state.points && state.model !== 'lm') params.set('pts', encodePoints(state.model, state.points));
  if (state.sentences && state.model === 'lm') params.set('sents', encodeSentences(state.sentences));
  return `?${params.toString()}`;
}

/** What runLab needs for a 2-D state. */
export function labInputs(state: LabState): LabInputs {
  if (state.model === 'lm') throw new Error('labInputs: the tiny LM runs through lmInputs');
  const generated = MODELS[state.model].generate(state.seed);
  return {
    model: state.model,
    seed: state.seed,
    train: state.points ?? generated.train,
    test: generated.test,
    damping: state.damping,
    fisher: state.fisher,
    loo: state.loo,
  };
}

/** What runLmLab needs for an LM state. */
export function lmInputs(state: LabState): LmInputs {
  return { train: state.sentences ?? LM_TRAIN, damping: state.damping, fisher: state.fisher, seed: state.seed };
}
