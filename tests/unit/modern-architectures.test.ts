/**
 * Causal LMs written like current Hugging Face architectures — Qwen2, Phi-3 (fused qkv_proj / gate_up_proj), Gemma-2,
 * LLaMA-3 (rotary scaling), Mistral (sliding window), GPT-NeoX (parallel residual, partial rotary, biased MLP), OPT
 * (learned positions, ReLU, biased fc1 / fc2) and GPT-2 (Conv1D linears exported as Gemm, fused c_attn, causal mask
 * by where over a tril buffer) — (tests/fixtures/models/modern, exported as-is by
 * torch.onnx with no value_info: see scripts/modern_models.py) attribute through `iwb attribute` on the CPU backend
 * and match the float64 EK-FAC scores that torch computed for the same weights and rows with forward hooks
 * (kronfluence semantics: empirical Fisher, MLP linears, damping 0.1 · mean Λ; summed-loss measurement, so the
 * bundle's influence is kronfluence's τ). Tolerance: the ONNX forward runs in float32, the reference in float64:
 * 1e-4 of the largest |score|.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorValues } from '../helpers/bundle-file';
import { cli } from '../helpers/cli';

const DIR = 'tests/fixtures/models/modern';
const work = mkdtempSync(path.join(tmpdir(), 'iwb-modern-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Reference {
  /** torch module names of the tracked linears, and the MatMul nodes torch.onnx wrote for them. */
  readonly tracked: readonly string[];
  readonly trackedNodes: readonly string[];
  readonly scores: readonly (readonly number[])[];
}

/**
 * Each file and the reference it must match, every architecture in the three forms Hugging Face users meet:
 * <style>.onnx as torch.onnx exports it, <style>-optimum.onnx the same weights in Optimum's with-past signature
 * (the cache fed empty; OPT's takes no position_ids) and <style>-merged.onnx Optimum's merged decoder of the same
 * (an If on use_cache_branch; its no-cache branch is taken).
 */
const STYLES = ['qwen2', 'phi3', 'gemma2', 'llama3', 'mistral', 'gptneox', 'opt', 'gpt2'];
const FILES = STYLES.flatMap((s) => [
  [s, s],
  [`${s}-optimum`, s],
  [`${s}-merged`, s],
]);

describe.each(FILES)('%s export, as exported', (file, style) => {
  const model = `${DIR}/${file}.onnx`;
  const reference = JSON.parse(readFileSync(`${DIR}/${style}.scores.json`, 'utf8')) as Reference;

  it('tracks the MLP linears the reference tracks (a fused gate_up_proj is one layer)', async () => {
    const { code, stdout } = await cli(['layers', model, '--json']);
    expect(code).toBe(0);
    const layers = (JSON.parse(stdout) as { layers: { nodeName: string; tracked: boolean }[] }).layers;
    const tracked = layers.filter((l) => l.tracked).map((l) => l.nodeName);
    // The with-past and merged exports call the layers' submodules themselves, so torch.onnx names their nodes
    // /mlp/gate_proj/…, /mlp/gate_proj_1/…: there the projections are compared by name, in order.
    const projection = (node: string) => node.split('/').at(-2)!.replace(/_\d+$/, '');
    if (file === style) expect(tracked).toEqual(reference.trackedNodes);
    else expect(tracked.map(projection)).toEqual(reference.trackedNodes.map(projection));
  });

  it('scores match the float64 torch reference within 1e-4 of the largest', async () => {
    const out = path.join(work, `${file}.iwb`);
    const { code, stderr } = await cli([
      'attribute',
      ...['--model', model, '--train', `${DIR}/train.jsonl`, '--queries', `${DIR}/queries.jsonl`],
      ...['--backend', 'cpu', '--strategy', 'ekfac', '--fisher', 'empirical', '--measurement', 'summed-loss'],
      ...['--quiet', '--out', out],
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const got = tensorValues(readFileSync(out), 'scores.influence');
    const want = reference.scores.flat();
    expect(got.length).toBe(want.length);
    const scale = Math.max(...want.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    const worst = Math.max(...want.map((w, i) => Math.abs(got[i]! - w)));
    expect(worst / scale).toBeLessThanOrEqual(1e-4);
  }, 300_000);
});
