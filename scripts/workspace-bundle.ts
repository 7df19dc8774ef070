/**
 * Synthetic .iwb bundles of a real run's shape for the workspace: its e2e fixtures (tests/fixtures/workspace, made by
 * `npx tsx scripts/workspace-bundle.ts`) and bench:ui's full-demo-sized bundle. Scores are seeded random numbers that
 * keep the engine's identities: per-token τ sums to τ (the last position of each sequence is 0, as for a causal LM),
 * per-layer τ sums to τ, influence = τ / T_q (mean log-likelihood). Text is made up; the hostile variant puts HTML
 * and script in every text field a view shows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeBundle, type BundleContent } from '../src/store/bundle';
import type { DatasetRow } from '../src/core/schema';
import { seededUniform } from '../src/core/random';

export interface SyntheticShape {
  readonly queries: number;
  readonly train: number;
  /** Token count range [min, max] of a training sequence. */
  readonly tokens: readonly [number, number];
  readonly hostile?: boolean;
  readonly seed?: number;
  /** Make training example 0 this many tokens long (the heatmap's long case). */
  readonly firstTokens?: number;
  /** Query rows without tokens and per-token loss, as bundles written before runs recorded them. */
  readonly withoutQueryLoss?: boolean;
}

/**
 * Query tokens and their loss per token (null on the prompt), from their own generator so the scores' stream, and
 * so every score of a fixture, is the same with or without them.
 */
function queryTokens(q: number, seed: number): Pick<DatasetRow, 'tokens' | 'tokenLoss'> {
  const random = seededUniform(seed * 7919 + q + 1);
  const length = 6 + Math.floor(random() * 10);
  const promptLen = 2 + Math.floor(random() * 3);
  const tokens = Array.from({ length }, (_, t) =>
    t === 0 ? '<|bos|>' : ` ${WORDS[Math.floor(random() * WORDS.length)]}`,
  );
  return { tokens, tokenLoss: tokens.map((_, t) => (t < promptLen ? null : 4 * random() ** 2)) };
}

const WORDS = [
  'so',
  'then',
  'therefore',
  '12',
  '+',
  '=',
  'x',
  'def',
  '(',
  ')',
  ':',
  'return',
  'the',
  'answer',
  'is',
  '7',
  'if',
  'because',
];
const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

export function syntheticContent(shape: SyntheticShape): BundleContent {
  const random = seededUniform(shape.seed ?? 7);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const hostile = (text: string) => (shape.hostile ? `${text} ${HOSTILE}` : text);
  const Q = shape.queries;
  const N = shape.train;
  const benchmarks = ['gsm8k', 'mbpp'];
  const domains = ['math', 'code'];
  const difficulties = ['easy', 'medium', 'hard'];
  const lengths = Array.from(
    { length: N },
    () => shape.tokens[0] + Math.floor(random() * (shape.tokens[1] - shape.tokens[0] + 1)),
  );
  if (shape.firstTokens !== undefined && N > 0) lengths[0] = shape.firstTokens;
  const offsets = new Int32Array(N + 1);
  lengths.forEach((length, n) => (offsets[n + 1] = offsets[n]! + length));
  const total = offsets[N]!;
  const train: DatasetRow[] = lengths.map((length, n) => {
    const domain = domains[n % 2]!;
    const promptEnd = Math.max(1, Math.floor(length * 0.3));
    const answerStart = Math.max(promptEnd, Math.floor(length * 0.7));
    const answerEnd = Math.max(answerStart + 1, Math.floor(length * 0.85));
    const tokens = Array.from({ length }, (_, t) =>
      t === 0 ? '<|bos|>' : ` ${WORDS[Math.floor(random() * WORDS.length)]}`,
    );
    if (shape.hostile) tokens[1] = HOSTILE;
    return {
      id: shape.hostile ? `t${n}<b>bold</b>` : `t${n}`,
      prompt: hostile(`Training prompt ${n}: what is ${n} + 7?`),
      response: hostile(`Step one. Step two. The answer is ${n + 7}. Checking again.`),
      domain,
      difficulty: difficulties[Math.floor(n / 2) % 3]!,
      tokens,
      tokenCategories: tokens.map(() => Math.floor(random() * 6)),
      segments: [
        { label: 'reasoning', start: promptEnd, end: answerStart },
        { label: 'final_answer', start: answerStart, end: Math.min(answerEnd, length) },
        ...(answerEnd < length ? [{ label: 'after_answer', start: answerEnd, end: length }] : []),
      ],
    };
  });
  const query: DatasetRow[] = Array.from({ length: Q }, (_, q) => ({
    id: shape.hostile ? `q${q}<i>x</i>` : `q${q}`,
    prompt: hostile(`Query ${q}: compute ${q} * 3.`),
    response: hostile(`${q} * 3 = ${q * 3}. The answer is ${q * 3}.`),
    benchmark: benchmarks[q % 2]!,
    ...(shape.withoutQueryLoss ? {} : queryTokens(q, shape.seed ?? 7)),
  }));
  const targetCounts = Float64Array.from({ length: Q }, () => 3 + Math.floor(random() * 8));
  const perToken = new Float64Array(Q * total);
  const tau = new Float64Array(Q * N);
  const layers = 2;
  const perLayer = new Float64Array(layers * Q * N);
  for (let q = 0; q < Q; q++) {
    for (let n = 0; n < N; n++) {
      // Math examples help gsm8k and code examples help mbpp on average, so the table has structure to show.
      const bias = (n % 2 === q % 2 ? 0.02 : -0.01) * (1 + (Math.floor(n / 2) % 3));
      let sum = 0;
      for (let t = offsets[n]!; t < offsets[n + 1]! - 1; t++) {
        const value = bias + 0.05 * normal();
        perToken[q * total + t] = value;
        sum += value;
      }
      tau[q * N + n] = sum;
      const first = sum * (0.3 + 0.4 * random());
      perLayer[q * N + n] = first;
      perLayer[Q * N + q * N + n] = sum - first;
    }
  }
  const influence = Float64Array.from(tau, (value, i) => value / targetCounts[Math.floor(i / N)]!);
  const selfTau = Float64Array.from({ length: N }, () => 0.5 + random() * 4);
  return {
    model: { name: shape.hostile ? HOSTILE : 'synthetic model', sha256: '0'.repeat(64), bytes: 1 },
    datasets: { train: null, query: null },
    strategy: 'ekfac',
    config: {
      strategy: 'ekfac',
      damping: { kind: 'heuristic', factor: 0.1 },
      fisher: 'sampled',
      measurement: 'mean-log-likelihood',
      perToken: true,
      seed: 0,
      peakGpuBytes: 12 * 2 ** 20,
    },
    backend: shape.hostile ? HOSTILE : 'synthetic (no engine)',
    layers: [0, 1].map((l) => ({
      name: `/h.${l}/mlp/c_fc/MatMul`,
      weightName: `onnx::MatMul_${l}`,
      dIn: 16,
      dOut: 64,
      hasBias: true,
      damping: 1e-3 * (l + 1),
    })),
    scores: {
      measurement: 'mean-log-likelihood',
      tau: { shape: [Q, N], data: tau },
      influence: { shape: [Q, N], data: influence },
      tauPerLayer: { shape: [layers, Q, N], data: perLayer },
      selfTau: { shape: [N], data: selfTau },
      queryTargetCounts: { shape: [Q], data: targetCounts },
      tauPerToken: { offsets, values: { shape: [Q, total], data: perToken } },
    },
    rows: { train, query },
  };
}

export function syntheticBundle(shape: SyntheticShape, scoreDtype: 'F32' | 'F64' = 'F64'): Promise<Uint8Array> {
  return encodeBundle(syntheticContent(shape), {
    scoreDtype,
    createdAt: '2026-11-30T00:00:00.000Z',
    generator: 'scripts/workspace-bundle.ts',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = 'tests/fixtures/workspace';
  mkdirSync(out, { recursive: true });
  writeFileSync(`${out}/small.iwb`, await syntheticBundle({ queries: 6, train: 30, tokens: [8, 40] }));
  // The hostile bundle also stands for bundles written before query losses were recorded.
  const hostile = { queries: 2, train: 6, tokens: [6, 12], hostile: true, withoutQueryLoss: true } as const;
  writeFileSync(`${out}/hostile.iwb`, await syntheticBundle(hostile));
  console.log(`wrote ${out}/small.iwb and ${out}/hostile.iwb`);
}
