/**
 * `npm run demo:full-bundle -- [OUT.iwb] [extra iwb attribute flags]`: the full demo bundle (issue 20 §2; the run is
 * src/cli/demo-bundle.ts) — the built-in demo's every training example and query (2,972 × 400), EK-FAC on the CPU
 * float64 backend, seed 0, group token scores and each query's top-20 pair token scores. Prints the sha256 of every
 * tensor: a rerun gives the same hashes. Default OUT: tmp/full-demo-exact.iwb (ignored by git: the exact float64
 * build is over the page's download budget).
 *
 * The state is checkpointed to OUT.checkpoint (removed when the bundle is written): run the same command again after a
 * kill and it resumes. The run is also the full demo's CPU benchmark (issue 20 §4): its wall and process CPU seconds
 * (added across resumes, kept in OUT.timing.json meanwhile) and the load average sampled each minute are written to
 * IWB_BENCH_RECORD (default docs/benchmarks/full-demo-cpu.json) when the demo is the full one.
 *
 * Then the page's copy (src/cli/demo-bundle.ts pageCopy: float32 scores, no factors; gzip) and its manifest go to
 * IWB_PAGE_DIR/full-demo.iwb.gz and full-demo.json (default public/demo for the full demo; another demo's only when
 * set).
 *
 * IWB_PAGE_ONLY=1 with an OUT already built writes only the page's copy and manifest (no run, no record).
 *
 * Try the mechanism on the micro demo: `npm run demo:full-bundle -- /tmp/micro.iwb --demo micro`.
 */
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { buildDemoBundle, compressedPageCopy, demoManifest, describeBuild, pageCopy } from '../src/cli/demo-bundle';

const [out = 'tmp/full-demo-exact.iwb', ...extra] = process.argv.slice(2);
mkdirSync(path.dirname(out), { recursive: true });
const checkpoint = `${out}.checkpoint`;
const timingFile = `${out}.timing.json`;
interface Timing {
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly sessions: number;
  readonly load: number[];
  readonly startedAt: string;
}
const previous: Timing = existsSync(timingFile)
  ? (JSON.parse(readFileSync(timingFile, 'utf8')) as Timing)
  : { wallSeconds: 0, cpuSeconds: 0, sessions: 0, load: [], startedAt: new Date().toISOString() };
const start = performance.now();
const load: number[] = [loadavg()[0]!];
const timing = (): Timing => {
  const cpu = process.cpuUsage();
  return {
    wallSeconds: previous.wallSeconds + (performance.now() - start) / 1000,
    cpuSeconds: previous.cpuSeconds + (cpu.user + cpu.system) / 1e6,
    sessions: previous.sessions + 1,
    load: [...previous.load, ...load],
    startedAt: previous.startedAt,
  };
};
// Each minute: the load average, and the time so far (a resumed run adds to it).
const sampler = setInterval(() => {
  load.push(loadavg()[0]!);
  writeFileSync(timingFile, JSON.stringify(timing()) + '\n');
}, 60_000);
sampler.unref();

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
  interactive: false,
};
// IWB_PAGE_ONLY=1: OUT is built already; only (re)write the page's copy and manifest from it.
const pageOnly = process.env.IWB_PAGE_ONLY === '1';
const built = pageOnly ? await describeBuild(out) : await buildDemoBundle(out, extra, { io, checkpoint });
clearInterval(sampler);
load.push(loadavg()[0]!);
const total = timing();
if (!pageOnly) {
  rmSync(checkpoint, { force: true });
  rmSync(timingFile, { force: true });
}
console.log(`${out}: ${built.queries} queries × ${built.train} training examples, ${statSync(out).size} bytes`);
for (const [name, sha256] of Object.entries(built.tensors)) console.log(`${sha256}  ${name}`);
console.log(
  `wall ${total.wallSeconds.toFixed(0)} s, CPU ${total.cpuSeconds.toFixed(0)} s over ${total.sessions} session(s)`,
);
const pageDir = process.env.IWB_PAGE_DIR ?? (extra.includes('--demo') ? undefined : 'public/demo');
if (pageDir !== undefined) {
  const page = compressedPageCopy(await pageCopy(readFileSync(out)));
  writeFileSync(path.join(pageDir, 'full-demo.iwb.gz'), page);
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const command = `npm run demo:full-bundle -- ${[out, ...extra].join(' ')}`;
  const manifest = await demoManifest(built, page, { file: 'full-demo.iwb.gz', command, commit });
  writeFileSync(path.join(pageDir, 'full-demo.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`${path.join(pageDir, 'full-demo.iwb.gz')}: the page's copy, ${page.byteLength} bytes (gzip)`);
}
if (!extra.includes('--demo') && !pageOnly) {
  const record = {
    date: new Date().toISOString(),
    startedAt: total.startedAt,
    command: `npm run demo:full-bundle -- ${[out, ...extra].join(' ')}`,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      // The machine is shared: the load average (1 min), sampled each minute of the run.
      loadAverageSamples: total.load.map((l) => Math.round(l * 100) / 100),
    },
    demo: 'demo (full)',
    queries: built.queries,
    trainExamples: built.train,
    strategy: 'ekfac',
    backend: 'cpu (float64)',
    bundleBytes: statSync(out).size,
    wallSeconds: total.wallSeconds,
    processCpuSeconds: total.cpuSeconds,
    sessions: total.sessions,
    tensors: built.tensors,
  };
  writeFileSync(
    process.env.IWB_BENCH_RECORD ?? 'docs/benchmarks/full-demo-cpu.json',
    JSON.stringify(record, null, 2) + '\n',
  );
}
