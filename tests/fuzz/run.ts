/**
 * The seeded fuzz suite (issues 11 and 25): JSONL, ONNX, bundles, flags, outputs, a few whole CLI runs, and
 * hostile2.ts's external data, tokenizers, output escaping, safetensors headers and crashed writers; each case
 * classified as a clean refusal, an accepted valid input, or a bad outcome. Case i of kind k uses seed
 * (base + k·10⁶ + i), so a bad case is reproduced by its seed alone. `npm test` runs a fast subset
 * (tests/unit/fuzz.test.ts), `npm run fuzz` the full plan (scripts/fuzz.ts), which writes docs/fuzz-latest.json.
 */
import { readFileSync } from 'node:fs';
import { bundleCase, bundleSetup, runBundleCase } from './bundles';
import { describeError, FuzzViolation, Random, type BadCase, type Counts, type Outcome } from './classify';
import { runCliCase } from './cli';
import { flagCase, runFlagCase } from './flags';
import { jsonlCase, jsonlSetup, runJsonlCase } from './jsonl';
import { onnxCase, onnxSetup, runOnnxCase } from './onnx';
import { outputCase, runOutputCase } from './outputs';
import { runCrashCase, runExternalDataCase, runHeaderCase, runInjectionCase, runTokenizerCase } from './hostile2';

export const KINDS = [
  'jsonl',
  'onnx',
  'bundles',
  'flags',
  'outputs',
  'cli',
  'extdata',
  'tokenizer',
  'injection',
  'headers',
  'crashes',
] as const;
export type Kind = (typeof KINDS)[number];
export type Plan = Readonly<Record<Kind, number>>;

/**
 * `npm test`'s share: 3,300 cases, a few seconds (its whole-CLI cases are tests/unit/cli-hostile.test.ts, its real
 * signals tests/unit/output-signals.test.ts).
 */
export const FAST_PLAN: Plan = {
  jsonl: 700,
  onnx: 150,
  bundles: 700,
  flags: 700,
  outputs: 60,
  cli: 0,
  extdata: 40,
  tokenizer: 150,
  injection: 500,
  headers: 250,
  crashes: 60,
};
export const FULL_PLAN: Plan = {
  jsonl: 3500,
  onnx: 1200,
  bundles: 3500,
  flags: 3000,
  outputs: 400,
  cli: 24,
  extdata: 400,
  tokenizer: 1500,
  injection: 3000,
  headers: 2000,
  crashes: 600,
};

export interface FuzzReport {
  readonly seed: number;
  readonly plan: Plan;
  readonly cases: number;
  readonly counts: Record<Kind, Counts>;
  readonly totals: Counts;
  readonly bad: readonly BadCase[];
  readonly seconds: number;
  readonly slowestCaseMs: number;
}

export interface FuzzOptions {
  /** A case slower than this counts as a hang; undefined in `npm test`, whose own timeout bounds the run instead. */
  readonly hangMs?: number;
  readonly onProgress?: (kind: Kind, done: number) => void;
}

export async function runFuzz(plan: Plan, seed: number, options: FuzzOptions = {}): Promise<FuzzReport> {
  const { hangMs, onProgress } = options;
  const started = performance.now();
  const [jsonl, onnx, bundles] = [jsonlSetup(), onnxSetup(), await bundleSetup()];
  const tokenizerText = readFileSync('public/data/micro/tokenizer.json', 'utf8');
  const runners: Record<Kind, (random: Random) => Promise<Outcome>> = {
    jsonl: async (random) => {
      const c = jsonlCase(random, jsonl);
      return runJsonlCase(jsonl, c.bytes, c.truncate);
    },
    onnx: async (random) => {
      const c = onnxCase(random, onnx);
      return runOnnxCase(c.bytes, c.gradient);
    },
    bundles: async (random) => runBundleCase(await bundleCase(random, bundles)),
    flags: async (random) => runFlagCase(flagCase(random)),
    outputs: async (random) => runOutputCase(outputCase(random), random),
    cli: async (random) => runCliCase(cliIndex++, random),
    extdata: async (random) => runExternalDataCase(random),
    tokenizer: async (random) => runTokenizerCase(random, tokenizerText),
    injection: async (random) => runInjectionCase(random),
    headers: async (random) => runHeaderCase(random),
    crashes: async (random) => runCrashCase(random),
  };
  let cliIndex = 0;
  const counts = Object.fromEntries(KINDS.map((k) => [k, { refused: 0, accepted: 0, bad: 0 }])) as Record<Kind, Counts>;
  const bad: BadCase[] = [];
  let slowest = 0;
  for (const [offset, kind] of KINDS.entries()) {
    for (let i = 0; i < plan[kind]; i++) {
      const caseSeed = seed + offset * 1_000_000 + i;
      const caseStart = performance.now();
      let outcome: Outcome;
      let detail = '';
      try {
        outcome = await runners[kind](new Random(caseSeed));
      } catch (error) {
        outcome = 'bad';
        detail = error instanceof FuzzViolation ? error.message : `crash: ${describeError(error)}`;
      }
      const ms = performance.now() - caseStart;
      slowest = Math.max(slowest, ms);
      if (outcome !== 'bad' && hangMs !== undefined && ms > hangMs) {
        outcome = 'bad';
        detail = `took ${Math.round(ms)} ms (bound ${hangMs} ms)`;
      }
      counts[kind][outcome]++;
      if (outcome === 'bad' && bad.length < 50) bad.push({ kind, seed: caseSeed, detail });
      if (i % 250 === 249) onProgress?.(kind, i + 1);
    }
  }
  const totals = { refused: 0, accepted: 0, bad: 0 };
  for (const kind of KINDS) for (const key of ['refused', 'accepted', 'bad'] as const) totals[key] += counts[kind][key];
  const cases = KINDS.reduce((sum, k) => sum + plan[k], 0);
  return {
    seed,
    plan,
    cases,
    counts,
    totals,
    bad,
    seconds: (performance.now() - started) / 1000,
    slowestCaseMs: slowest,
  };
}
