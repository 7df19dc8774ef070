/**
 * Messages that say what is wrong (issue 25 §10): a negative number given to a flag, parseArgs's hint kept whole,
 * a missing --factors folder, weights that are not finite named by initializer on load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readModel } from '../../src/app/inputs';
import type { Model } from '../../src/onnx/ir';
import { attributeArgs, cli, microModelBytes, microUserFiles } from '../helpers/cli';
import { fixturePath } from '../helpers/fixtures';

const work = mkdtempSync(path.join(tmpdir(), 'iwb-messages-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('flag messages', () => {
  it('--damping -1 and --top -3 say the number is negative; other parseArgs hints stay whole', async () => {
    const damping = await cli(['attribute', '--damping', '-1']);
    expect([damping.code, damping.stderr]).toEqual([
      2,
      'iwb: --damping "-1": a negative number; damping must be ≥ 0 (or "heuristic")\n',
    ]);
    const top = await cli(['inspect', fixturePath('workspace/small.iwb'), '--top', '-3']);
    expect([top.code, top.stderr]).toEqual([2, 'iwb: --top "-3": a negative number; it takes no negative number\n']);
    const ambiguous = await cli(['inspect', fixturePath('workspace/small.iwb'), '--top', '--x']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/^iwb: Option '--top' argument is ambiguous\. Did you forget .*'--top=-XYZ'/);
    expect(ambiguous.stderr.split('\n')).toHaveLength(2);
  });

  it('--factors naming no folder says so', async () => {
    const files = microUserFiles(work);
    const missing = path.join(work, 'no-such-factors');
    const { code, stderr } = await cli(attributeArgs(files, '--factors', missing));
    expect(code).toBe(1);
    expect(stderr.split('\n').filter((l) => l.startsWith('iwb:'))).toEqual([
      `iwb: --factors ${missing}: no such folder; give the folder kronfluence (or --kronfluence-out) wrote`,
    ]);
  });
});

describe('weights checked on load', () => {
  const poisoned = (value: number) =>
    microModelBytes((model: Model) => {
      const init = model.graph.initializers.get('h.0.mlp.c_fc.weight') ?? [...model.graph.initializers.values()][3]!;
      const data = Float32Array.from(init.data as Float32Array);
      data[5] = value;
      const initializers = new Map(model.graph.initializers).set(init.name, { ...init, data });
      return { ...model, graph: { ...model.graph, initializers } };
    });

  it('a NaN or ±∞ weight is refused naming the file and the initializer', () => {
    for (const value of [NaN, Infinity, -Infinity]) {
      expect(() => readModel('m.onnx', poisoned(value))).toThrow(
        new RegExp(
          `^m\\.onnx: initializer ".*" holds ${value} at element 5 \\(dims \\[.*\\]\\); its weights must be finite numbers$`,
        ),
      );
    }
    expect(() => readModel('m.onnx', poisoned(0.5))).not.toThrow();
  });
});
