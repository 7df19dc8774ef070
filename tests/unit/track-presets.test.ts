/**
 * The --track presets (mlp, attention, all) choose layers by role, on the demo GPT (fused q/k/v, tied head) and on a
 * LLaMA-style fixture (separate q, k, v, o; gated MLP); the gradient graph then offers exactly those layers, the
 * engine keeps them all, and the CLI takes a preset or a regular expression and refuses anything else naming --track.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engineConfig, DEFAULT_RUN_CONFIG } from '../../src/app/config';
import { readModel } from '../../src/app/inputs';
import { modelLayers, trackedChoice } from '../../src/app/model-layers';
import { CliUsageError, parseCommand, USAGE } from '../../src/cli/args';
import { EVALUATE_USAGE, parseEvaluate } from '../../src/cli/evaluate';
import { LAYERS_USAGE } from '../../src/cli/layers';
import { buildGradientGraph } from '../../src/onnx/gradient-graph';
import type { Model, Node } from '../../src/onnx/ir';
import { cli } from '../helpers/cli';

const DEMO = 'public/models/demo/model.onnx';
const LLAMA = 'tests/fixtures/models/modern/llama3.onnx';
const load = (path: string): Model => readModel(path, readFileSync(path));

/** The node names a choice tracks, as `iwb layers` marks them and as the gradient graph offers them. */
function tracked(model: Model, choice: string): { listed: string[]; graph: string[] } {
  const summary = modelLayers(model, choice);
  expect(summary.problem).toBeNull();
  const spec = trackedChoice(model, choice);
  const graph = buildGradientGraph(model, {
    loss: { kind: 'token-cross-entropy' },
    ...(spec ? { tracked: spec } : {}),
  });
  return {
    listed: summary.layers.filter((l) => l.tracked).map((l) => l.nodeName),
    graph: graph.layers.map((l) => l.nodeName),
  };
}

describe('presets by role', () => {
  const demo = load(DEMO);
  const block = (i: number, part: 'attn' | 'mlp') =>
    part === 'attn'
      ? [`/h.${i}/attn/c_attn/MatMul`, `/h.${i}/attn/c_proj/MatMul`]
      : [`/h.${i}/mlp/c_fc/MatMul`, `/h.${i}/mlp/c_proj/MatMul`];

  it('demo GPT: mlp = c_fc and mlp c_proj (the default), attention = c_attn and attn c_proj, all = both but lm_head', () => {
    const mlp = [...block(0, 'mlp'), ...block(1, 'mlp')];
    const attention = [...block(0, 'attn'), ...block(1, 'attn')];
    const all = [...block(0, 'attn'), ...block(0, 'mlp'), ...block(1, 'attn'), ...block(1, 'mlp')];
    for (const [choice, want] of [
      ['mlp', mlp],
      ['attention', attention],
      ['all', all],
    ] as const) {
      const { listed, graph } = tracked(demo, choice);
      expect(listed, choice).toEqual(want);
      expect([...graph].sort(), choice).toEqual([...want].sort());
    }
    // The default (null) tracks what mlp tracks; the tied output head is in no preset.
    expect(tracked(demo, 'mlp').listed).toEqual(
      modelLayers(demo, null)
        .layers.filter((l) => l.tracked)
        .map((l) => l.nodeName),
    );
    expect(tracked(demo, 'all').listed).not.toContain('/lm_head/MatMul');
  });

  it('LLaMA-style (modern fixture): q, k, v, o for attention; gate, up, down for mlp; all but lm_head', () => {
    const llama = load(LLAMA);
    const names = (i: number, parts: string[]) => parts.map((p) => `/layers.${i}/${p}/MatMul`);
    const attn = ['self_attn/q_proj', 'self_attn/k_proj', 'self_attn/v_proj', 'self_attn/o_proj'];
    const mlp = ['mlp/gate_proj', 'mlp/up_proj', 'mlp/down_proj'];
    expect(tracked(llama, 'attention').listed).toEqual([...names(0, attn), ...names(1, attn)]);
    expect(tracked(llama, 'mlp').listed).toEqual([...names(0, mlp), ...names(1, mlp)]);
    const all = tracked(llama, 'all');
    expect(all.listed).toEqual([...names(0, [...attn, ...mlp]), ...names(1, [...attn, ...mlp])]);
    expect(all.graph).toHaveLength(14);
  });

  it('a value that is not a preset stays a regular expression over node names', () => {
    expect(tracked(demo, 'attn/c_attn').listed).toEqual([block(0, 'attn')[0], block(1, 'attn')[0]]);
  });

  it('a preset that chooses nothing is refused naming it and the layers with their roles', () => {
    // Anonymous names: the MLPs are still found by structure and the head by its width, no attention by anything.
    const anonymous = renamed(demo);
    expect(tracked(anonymous, 'mlp').listed).toHaveLength(4);
    expect(() => trackedChoice(anonymous, 'attention')).toThrow(
      /^track "attention": the model has no attention layer among its linear layers: n\d+ \(no role\), .*n\d+ \(output head\)/,
    );
    expect(modelLayers(anonymous, 'attention').problem).toMatch(/track "attention"/);
    expect(modelLayers(anonymous, 'attention').layers.some((l) => l.tracked)).toBe(false);
  });

  it('the engine keeps every layer the gradient graph offers for a preset, and a regular expression as given', () => {
    expect(engineConfig({ ...DEFAULT_RUN_CONFIG, trackedLayers: 'attention' }).trackedLayers).toBeNull();
    expect(engineConfig({ ...DEFAULT_RUN_CONFIG, trackedLayers: 'mlp' }).trackedLayers).toBeNull();
    expect(engineConfig({ ...DEFAULT_RUN_CONFIG, trackedLayers: 'attn' }).trackedLayers).toBe('attn');
  });
});

describe('the --track flag', () => {
  const usageError = (argv: string[]): string => {
    try {
      parseCommand(argv);
    } catch (error) {
      expect(error).toBeInstanceOf(CliUsageError);
      return (error as Error).message;
    }
    throw new Error(`parseCommand(${argv.join(' ')}) did not throw`);
  };

  it('iwb attribute takes a preset or a regular expression and refuses an empty or broken one naming --track', () => {
    for (const value of ['mlp', 'attention', 'all', 'attn/c_attn']) {
      const command = parseCommand(['attribute', '--track', value]);
      expect(command.name === 'attribute' && command.args.config.trackedLayers).toBe(value);
    }
    expect(usageError(['attribute', '--track', ''])).toBe(
      '--track is empty: give mlp, attention, all or a regular expression',
    );
    expect(usageError(['attribute', '--track', '(['])).toMatch(/^--track "\(\[" is not a valid regular expression/);
    expect(USAGE).toContain('[--track mlp|attention|all|<regex>]');
    // One grammar, from the options table (app/options.ts), in every command's usage.
    expect(LAYERS_USAGE).toContain('[--track mlp|attention|all|<regex>]');
  });

  it('iwb evaluate takes --track for the attribution only (absent: the default), refusing a bad value naming it', () => {
    expect(parseEvaluate([]).settings.trackedLayers).toBeUndefined();
    expect(parseEvaluate(['--track', 'all']).settings.trackedLayers).toBe('all');
    expect(parseEvaluate(['--track', 'mlp/c_fc']).settings.trackedLayers).toBe('mlp/c_fc');
    expect(() => parseEvaluate(['--track', '('])).toThrow(/^--track "\(" is not a valid regular expression/);
    expect(() => parseEvaluate(['--track', ''])).toThrow(CliUsageError);
    expect(EVALUATE_USAGE).toContain('[--track mlp|attention|all|<regex>]');
  });

  it("iwb layers marks the preset's layers and refuses a bad value with exit 2", async () => {
    const ok = await cli(['layers', DEMO, '--track', 'attention']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/9 linear layers, 4 tracked \(\*\), 132096 tracked parameters/);
    expect(ok.stdout).toMatch(/^\* +\/h\.0\/attn\/c_attn\/MatMul /m);
    expect(ok.stdout).toMatch(/^ +\/h\.0\/mlp\/c_fc\/MatMul /m);
    const bad = await cli(['layers', DEMO, '--track', '(']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--track "\(" is not a valid regular expression/);
  });
});

/** The model with every node and initializer renamed n<i> / w<i>: names say nothing of any layer's role. */
function renamed(model: Model): Model {
  const names = new Map([...model.graph.initializers.keys()].map((name, i) => [name, `w${i}`]));
  const rename = (value: string) => names.get(value) ?? value;
  const nodes: Node[] = model.graph.nodes.map((n, i) => ({ ...n, name: `n${i}`, inputs: n.inputs.map(rename) }));
  const initializers = new Map(
    [...model.graph.initializers].map(([name, t]) => [rename(name), { ...t, name: rename(name) }]),
  );
  return { ...model, graph: { ...model.graph, nodes, initializers } };
}

describe('iwb evaluate --track: one set of retrains scored with another tracking', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'iwb-track-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const small = ['--limit-train', '6', '--limit-queries', '2', '--subsets', '3', '--steps', '3', '--batch-size', '2'];

  it('--track all retrains nothing, attributes again, records what it tracked; a second run reads its influence', async () => {
    const checkpoint = path.join(dir, 'track.checkpoint.json');
    const base = ['evaluate', ...small, '--strategies', 'ekfac', '--checkpoint', checkpoint];
    const [mlpFile, allFile] = [path.join(dir, 'mlp.json'), path.join(dir, 'all.json')];
    expect((await cli([...base, '--out', mlpFile])).code).toBe(0);
    const all = await cli([...base, '--track', 'all', '--saved-only', '--out', allFile]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/retrains: 0 run, 3 from the checkpoint/);
    expect(all.stderr).toMatch(/influence \(ekfac\): [\d.]+ s/);
    type Json = { tracked: string | null; subsetMeasurements: number[]; lds: { predictions: number[] }[] };
    const [m, a] = [mlpFile, allFile].map((f) => JSON.parse(readFileSync(f, 'utf8')) as Json);
    expect([m!.tracked, a!.tracked]).toEqual([null, 'all']);
    expect(a!.subsetMeasurements).toEqual(m!.subsetMeasurements);
    // More layers in the inner product: other predictions from the same retrains.
    expect(a!.lds[0]!.predictions).not.toEqual(m!.lds[0]!.predictions);
    const again = await cli([...base, '--track', 'all', '--saved-only', '--out', allFile]);
    expect(again.stderr).toMatch(/influence \(ekfac\): from the saved influence/);
    expect((JSON.parse(readFileSync(allFile, 'utf8')) as Json).lds).toEqual(a!.lds);
  }, 180_000);
});
