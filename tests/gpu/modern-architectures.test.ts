/**
 * The architecture zoo (tests/fixtures/models/modern: Qwen2, Phi-3, Gemma-2, LLaMA-3, Mistral, GPT-NeoX, OPT and
 * GPT-2, each as exported, in Optimum's with-past signature and as a merged decoder) on the WebGPU float32 backend —
 * the real WGSL on Dawn + SwiftShader here — through `iwb attribute --backend webgpu`, against the same float64 torch
 * references the CPU test (tests/unit/modern-architectures.test.ts) checks: EK-FAC, empirical Fisher, summed-loss
 * measurement. Bar: the existing WebGPU bar, pairwise scores within 1e-4 of the largest |score| (float32 forward and
 * float32 factors on the GPU vs float64 torch). Each file's measured error is logged and recorded in
 * docs/benchmarks/modern-architectures-webgpu.json.
 *
 * Speed (24 runs): they share one device and one WebGPU backend (handed to the CLI through its `chooseBackend` hook),
 * so the WGSL pipelines compile once for the file; and since SwiftShader's time goes mostly to the Jacobi sweeps (two
 * eigendecompositions per tracked layer), each as-is export tracks all its MLP linears and is checked against the
 * summed reference, while its with-past and merged exports — the same weights through other graphs — each track one
 * layer (`--track`, the node `iwb layers` lists: the last block's first MLP linear for with-past, e.g. Phi-3's fused
 * gate_up_proj, its last for merged) and are checked against that layer's own float64 term (layerScores: damping is
 * per layer, so one tracked layer's τ is exactly its term of the sum).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChosenBackend } from '../../src/app/backend-choice';
import { webGpuBackend } from '../../src/linalg/webgpu/backend';
import { tensorValues } from '../helpers/bundle-file';
import { cli } from '../helpers/cli';
import { testGpu } from '../helpers/gpu';

const DIR = 'tests/fixtures/models/modern';
const work = mkdtempSync(path.join(tmpdir(), 'iwb-modern-gpu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Fails loudly (naming what to install) when there is no adapter, before any file is tried.
const acquired = await testGpu();
const webgpu = await webGpuBackend(acquired);
let handedOut = 0;
/** The CLI's backend choice, answered with the one shared backend; its dispose() keeps the device for the next run. */
const shared = async (): Promise<ChosenBackend> => {
  handedOut++;
  return {
    backend: webgpu,
    webgpu,
    report: { kind: 'webgpu', description: webgpu.description, reason: 'WebGPU requested' },
    dispose: () => {},
  };
};

const STYLES = ['qwen2', 'phi3', 'gemma2', 'llama3', 'mistral', 'gptneox', 'opt', 'gpt2'];
const FILES = STYLES.flatMap((s) => [
  [s, s],
  [`${s}-optimum`, s],
  [`${s}-merged`, s],
]);

/** The node a with-past (one before last) or merged (last) export tracks alone, and its index in the reference. */
async function oneLayer(model: string, which: 'optimum' | 'merged'): Promise<{ node: string; index: number }> {
  const { code, stdout } = await cli(['layers', model, '--json']);
  expect(code).toBe(0);
  const layers = (JSON.parse(stdout) as { layers: { nodeName: string; tracked: boolean }[] }).layers;
  const tracked = layers.filter((l) => l.tracked).map((l) => l.nodeName);
  const index = tracked.length - (which === 'optimum' ? 2 : 1);
  return { node: tracked[index]!, index };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.each(FILES)('%s export on WebGPU', (file, style) => {
  it('scores match the float64 torch reference within 1e-4 of the largest', async () => {
    const reference = JSON.parse(readFileSync(`${DIR}/${style}.scores.json`, 'utf8')) as {
      scores: readonly (readonly number[])[];
      layerScores: readonly (readonly (readonly number[])[])[];
    };
    const model = `${DIR}/${file}.onnx`;
    const form = file === style ? null : file.endsWith('-merged') ? 'merged' : 'optimum';
    const layer = form === null ? null : await oneLayer(model, form);
    const [out, json] = [path.join(work, `${file}.iwb`), path.join(work, `${file}.json`)];
    const started = performance.now();
    const before = handedOut;
    const { code, stderr } = await cli(
      [
        'attribute',
        ...['--model', model, '--train', `${DIR}/train.jsonl`, '--queries', `${DIR}/queries.jsonl`],
        ...['--backend', 'webgpu', '--strategy', 'ekfac', '--fisher', 'empirical', '--measurement', 'summed-loss'],
        ...(layer ? ['--track', `^${escape(layer.node)}$`] : []),
        ...['--quiet', '--out', out, '--json', json],
      ],
      shared,
    );
    const seconds = (performance.now() - started) / 1000;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(handedOut, 'the run used the shared backend').toBe(before + 1);
    const summary = JSON.parse(readFileSync(json, 'utf8')) as {
      backend: { kind: string; description: string };
      damping: { layer: string }[];
    };
    expect(summary.backend.kind).toBe('webgpu');
    expect(summary.backend.description).toMatch(/WebGPU float32/);
    const layers = summary.damping.map((d) => d.layer);
    if (layer) expect(layers).toEqual([layer.node]);
    else expect(layers).toHaveLength(reference.layerScores.length);
    const got = tensorValues(readFileSync(out), 'scores.influence');
    const want = (layer ? reference.layerScores[layer.index]! : reference.scores).flat();
    expect(got.length).toBe(want.length);
    const scale = Math.max(...want.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    const worst = Math.max(...want.map((w, i) => Math.abs(got[i]! - w)));
    const record = { file, layer: layer?.node ?? 'all', relativeError: worst / scale, seconds };
    console.log(`zoo-webgpu ${JSON.stringify(record)}`);
    expect(worst / scale).toBeLessThanOrEqual(1e-4);
  });
});
