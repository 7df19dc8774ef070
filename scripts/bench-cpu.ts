/**
 * `npm run bench:cpu`: the CPU float64 backend's kernels on one core of this machine.
 *   - GEMM GFLOP/s (2·m·n·k per product) of src/linalg/cpu/gemm.ts at several sizes and transpositions, next to the
 *     loop the CPU backend used before it (i-l-j with a zero skip, kept here only as the baseline);
 *   - symmetric eigendecomposition seconds: Householder + implicit QL (tridiagonal.ts) at d = 512, 1024 (and 3072 with
 *     --large), Jacobi at d = 512 for comparison, with the residuals ‖QᵀQ − I‖_max and ‖A − QΛQᵀ‖_F/‖A‖_F.
 * Rates are given against both wall time and this process's CPU time: the machine's cores are shared, and CPU time is
 * what one core delivers while it runs us. The load average is recorded before and after.
 *     With --large also d = 3072 of rank 608 (XᵀX of 608 token rows: the GPT-2-small covariance of issue 15's run).
 * Options: --out FILE (default bench/cpu.json), --large (adds d = 3072; minutes), --quick (small sizes only),
 * --eigen-only (skips the GEMMs and Jacobi).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { gemm } from '../src/linalg/cpu/gemm';
import { jacobiEigh } from '../src/linalg/cpu/jacobi';
import { tridiagonalEigh } from '../src/linalg/cpu/tridiagonal';
import { seededUniform } from '../src/core/random';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench/cpu.json' },
    large: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'eigen-only': { type: 'boolean', default: false },
  },
});

interface Timing {
  wallSeconds: number;
  cpuSeconds: number;
}

function timed(work: () => void): Timing {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  work();
  const used = process.cpuUsage(cpu);
  return { wallSeconds: (performance.now() - wall) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Best of `rounds` timings of `reps` repetitions (per repetition): the least disturbed by other sessions. */
function best(rounds: number, reps: number, work: () => void): Timing {
  let result: Timing = { wallSeconds: Infinity, cpuSeconds: Infinity };
  for (let r = 0; r < rounds; r++) {
    const t = timed(() => {
      for (let i = 0; i < reps; i++) work();
    });
    if (t.cpuSeconds / reps < result.cpuSeconds)
      result = { wallSeconds: t.wallSeconds / reps, cpuSeconds: t.cpuSeconds / reps };
  }
  return result;
}

function random(length: number, seed: number): Float64Array {
  const rng = seededUniform(seed);
  return Float64Array.from({ length }, () => rng() - 0.5);
}

/** The CPU backend's product before gemm.ts: out[i, :] += a_il · b[l, :], skipping zero a_il. */
function previousMatmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < k; l++) {
      const ail = a[i * k + l]!;
      if (ail === 0) continue;
      const row = i * n;
      const bRow = l * n;
      for (let j = 0; j < n; j++) out[row + j]! += ail * b[bRow + j]!;
    }
  }
  return out;
}

const gflops = (flops: number, t: Timing) => ({
  ...t,
  gflopsWall: flops / t.wallSeconds / 1e9,
  gflopsCpu: flops / t.cpuSeconds / 1e9,
});

const loadBefore = loadavg();
const gemmResults: unknown[] = [];
for (const size of args['eigen-only'] ? [] : args.quick ? [64, 128] : [128, 256, 512, 1024]) {
  const a = random(size * size, size);
  const b = random(size * size, size + 1);
  const c = new Float64Array(size * size);
  const flops = 2 * size ** 3;
  const reps = Math.max(1, Math.round(5e7 / size ** 3));
  for (const [aT, bT] of [
    [false, false],
    [true, false],
    [false, true],
  ] as const) {
    const t = best(3, reps, () =>
      gemm(
        size,
        size,
        size,
        { data: a, ld: size, transposed: aT },
        { data: b, ld: size, transposed: bT },
        { data: c, ld: size },
      ),
    );
    const variant = `A${aT ? 'ᵀ' : ''}B${bT ? 'ᵀ' : ''}`;
    gemmResults.push({ kernel: 'gemm.ts', size, variant, ...gflops(flops, t) });
    console.log(
      `gemm ${size}³ ${variant}: ${(flops / t.cpuSeconds / 1e9).toFixed(2)} GFLOP/s (CPU time), ` +
        `${(flops / t.wallSeconds / 1e9).toFixed(2)} (wall)`,
    );
  }
  // Symmetric XᵀX with upperOnly: counted at the full product's flops, so the figure shows the saving.
  const t = best(3, reps, () =>
    gemm(
      size,
      size,
      size,
      { data: a, ld: size, transposed: true },
      { data: a, ld: size },
      { data: c, ld: size },
      { upperOnly: true },
    ),
  );
  gemmResults.push({ kernel: 'gemm.ts upperOnly (XᵀX)', size, variant: 'AᵀA', ...gflops(flops, t) });
  console.log(`gemm ${size}³ XᵀX upper: ${(flops / t.cpuSeconds / 1e9).toFixed(2)} effective GFLOP/s (CPU time)`);
  if (size <= 512) {
    const previous = best(2, 1, () => previousMatmul(a, b, size, size, size));
    gemmResults.push({ kernel: 'previous CPU backend loop', size, variant: 'AB', ...gflops(flops, previous) });
    console.log(`previous loop ${size}³: ${(flops / previous.cpuSeconds / 1e9).toFixed(2)} GFLOP/s (CPU time)`);
  }
}

function covarianceLike(d: number, seed: number, rows = d + Math.ceil(d / 3)): Float64Array {
  // XᵀX / rows of a random X with d/3 more rows than columns: a covariance-shaped, well-spread spectrum (or, with
  // fewer rows than d, the rank-deficient covariance of a few hundred tokens).
  const x = random(rows * d, seed);
  const a = new Float64Array(d * d);
  gemm(d, d, rows, { data: x, ld: d, transposed: true }, { data: x, ld: d }, { data: a, ld: d });
  return a;
}

function residuals(a: Float64Array, d: number, values: Float64Array, vectors: Float64Array) {
  const qtq = new Float64Array(d * d);
  gemm(d, d, d, { data: vectors, ld: d, transposed: true }, { data: vectors, ld: d }, { data: qtq, ld: d });
  let orthogonality = 0;
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) orthogonality = Math.max(orthogonality, Math.abs(qtq[i * d + j]! - (i === j ? 1 : 0)));
  const scaled = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) scaled[i * d + j] = vectors[i * d + j]! * values[j]!;
  const back = new Float64Array(d * d);
  gemm(d, d, d, { data: scaled, ld: d }, { data: vectors, ld: d, transposed: true }, { data: back, ld: d });
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < d * d; i++) {
    difference += (back[i]! - a[i]!) ** 2;
    norm += a[i]! ** 2;
  }
  return { orthogonality, relativeReconstruction: Math.sqrt(difference / norm) };
}

const eigenResults: unknown[] = [];
const eigenCases: (readonly [number, number | undefined])[] = args.quick
  ? [[128, undefined]]
  : [
      [512, undefined],
      [1024, undefined],
      ...(args.large
        ? ([
            [3072, undefined],
            [3072, 608],
          ] as const)
        : []),
    ];
for (const [d, rows] of eigenCases) {
  const a = covarianceLike(d, d, rows);
  let result: ReturnType<typeof tridiagonalEigh> | undefined;
  const t = timed(() => (result = tridiagonalEigh(a, d)));
  const check = residuals(a, d, result!.values, result!.vectors);
  const rank = rows !== undefined && rows < d ? rows : d;
  eigenResults.push({ solver: 'householder + implicit QL', d, rank, ...t, qlIterations: result!.iterations, ...check });
  console.log(
    `eigh QL d = ${d}, rank ${rank}: ${t.cpuSeconds.toFixed(2)} s CPU, ${t.wallSeconds.toFixed(2)} s wall; ${JSON.stringify(check)}`,
  );
  if (d <= 512 && !args['eigen-only']) {
    let jacobi: ReturnType<typeof jacobiEigh> | undefined;
    const tj = timed(() => (jacobi = jacobiEigh(a, d)));
    const checkJ = residuals(a, d, jacobi!.values, jacobi!.vectors);
    eigenResults.push({ solver: 'jacobi', d, ...tj, sweeps: jacobi!.sweeps, ...checkJ });
    console.log(
      `eigh Jacobi d = ${d}: ${tj.cpuSeconds.toFixed(2)} s CPU, ${tj.wallSeconds.toFixed(2)} s wall; ` +
        JSON.stringify(checkJ),
    );
  }
}

const report = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  loadAverage: { before: loadBefore, after: loadavg() },
  note: 'one thread; GFLOP/s = 2·m·n·k / time; best of 3 rounds by CPU time',
  gemm: gemmResults,
  eigen: eigenResults,
};
mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(args.out!, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${args.out}`);
