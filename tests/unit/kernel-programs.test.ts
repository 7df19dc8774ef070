import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROGRAMS } from '../../src/linalg/webgpu/backend';
import { packUniforms, uniformLayout, uniformViews, type UniformField } from '../../src/linalg/webgpu/program';
import { parseWgsl, type WgslModule } from '../helpers/wgsl-interface';

const SHADER_DIR = new URL('../../shaders/', import.meta.url);
const modules = new Map<string, WgslModule>(
  readdirSync(SHADER_DIR)
    .filter((file) => file.endsWith('.wgsl'))
    .map((file) => [file.replace(/\.wgsl$/, ''), parseWgsl(readFileSync(new URL(file, SHADER_DIR), 'utf8'))]),
);

describe('kernel descriptions agree with their WGSL', () => {
  it('every @compute entry point of every shader has exactly one description', () => {
    const described = PROGRAMS.map((p) => `${p.shader}.${p.entryPoint}`);
    const declared = [...modules].flatMap(([shader, module]) => module.entryPoints.map((e) => `${shader}.${e}`));
    expect([...described].sort()).toEqual([...declared].sort());
    expect(new Set(described).size).toBe(described.length);
  });

  for (const program of PROGRAMS) {
    it(`${program.shader}.wgsl ${program.entryPoint}: uniform struct, bindings and override constants`, () => {
      const module = modules.get(program.shader)!;
      const used = module.resourcesUsedBy(program.entryPoint);
      const uniform = used.filter((r) => r.access === 'uniform');
      expect(
        uniform.map((r) => r.binding),
        'one var<uniform> at @binding(0)',
      ).toEqual([0]);
      const fields = module.structs.get(uniform[0]!.type);
      expect(fields, `struct ${uniform[0]!.type}`).toBeDefined();
      expect(program.uniforms.map((u) => ({ name: u.name, type: u.type }))).toEqual(fields);
      const storage = used
        .filter((r) => r.access !== 'uniform')
        .map(({ name, binding, access }) => ({ name, binding, access }));
      expect(program.bindings.map(({ name, binding, access }) => ({ name, binding, access }))).toEqual(storage);
      for (const constant of program.constants ?? []) expect(module.overrides).toContain(constant);
    });
  }
});

describe('the WGSL reader the test above relies on', () => {
  const source = `
    override SIDE: u32 = 8u;
    struct P { a: u32, b: f32 }
    struct Q { n: u32 }
    @group(0) @binding(0) var<uniform> params: P;
    @group(0) @binding(0) var<uniform> other: Q;
    @group(0) @binding(1) var<storage> x: array<f32>;      // default access: read
    @group(0) @binding(2) var<storage, read_write> y: array<f32>;
    @group(0) @binding(3) var<storage, read_write> z: array<f32>;
    fn helper() -> f32 { return x[params.a]; }
    @compute @workgroup_size(SIDE) fn first(@builtin(global_invocation_id) id: vec3<u32>) { y[id.x] = helper(); }
    @compute @workgroup_size(1) fn second() { z[other.n] = 1.0; /* y[0] = 0.0; */ }`;
  const module = parseWgsl(source);

  it('follows calls, ignores comments and member names, and reads access modes', () => {
    expect(module.entryPoints).toEqual(['first', 'second']);
    expect(module.resourcesUsedBy('first').map((r) => `${r.binding}:${r.name}:${r.access}`)).toEqual([
      '0:params:uniform',
      '1:x:read',
      '2:y:read_write',
    ]);
    expect(module.resourcesUsedBy('second').map((r) => r.name)).toEqual(['other', 'z']);
    expect(module.structs.get('P')).toEqual([
      { name: 'a', type: 'u32' },
      { name: 'b', type: 'f32' },
    ]);
    expect(module.overrides).toEqual(['SIDE']);
  });
});

describe('uniform layout and packing', () => {
  const fields: UniformField[] = [
    { name: 'count', type: 'u32' },
    { name: 'direction', type: 'vec3<f32>' },
    { name: 'scale', type: 'f32' },
    { name: 'offset', type: 'vec2<i32>' },
    { name: 'bias', type: 'f32' },
  ];

  it('places fields by WGSL alignment: vec3 aligns to 16 and leaves room for a scalar; size rounds to alignment', () => {
    const layout = uniformLayout(fields);
    expect(layout.fields.map((f) => f.offset)).toEqual([0, 16, 28, 32, 40]);
    expect(layout.size).toBe(48);
    expect(
      uniformLayout([
        { name: 'a', type: 'u32' },
        { name: 'b', type: 'u32' },
        { name: 'c', type: 'u32' },
      ]).size,
    ).toBe(12);
  });

  it('writes named values as their types at those offsets', () => {
    const layout = uniformLayout(fields);
    const words = new Uint32Array(32);
    const values = { count: 7, direction: [1.5, -2, 0.25], scale: 0.1, offset: [-3, 4], bias: true };
    expect(packUniforms(layout, values, uniformViews(words.buffer), 64)).toBeNull();
    const floats = new Float32Array(words.buffer);
    expect(words[16]).toBe(7);
    expect(Array.from(floats.subarray(20, 23))).toEqual([1.5, -2, 0.25]);
    expect(floats[23]).toBeCloseTo(0.1, 7);
    expect(Array.from(new Int32Array(words.buffer).subarray(24, 26))).toEqual([-3, 4]);
    expect(floats[26]).toBe(1);
  });

  it('names the field when a value is missing, unknown, of the wrong length or out of range', () => {
    const layout = uniformLayout([
      { name: 'rows', type: 'u32' },
      { name: 'shift', type: 'vec2<f32>' },
    ]);
    const pack = (values: Record<string, unknown>) =>
      packUniforms(layout, values, uniformViews(new ArrayBuffer(32)), 0);
    expect(pack({ shift: [0, 0] })).toMatch(/uniform "rows" \(u32\) has no value/);
    expect(pack({ rows: 1, shift: [0, 0], cols: 2 })).toMatch(/uniform "cols" is not a field/);
    expect(pack({ rows: 1, shift: [0] })).toMatch(/uniform "shift" \(vec2<f32>\) needs 2 components/);
    expect(pack({ rows: -1, shift: [0, 0] })).toMatch(/uniform "rows" \(u32\) = -1 is not an integer/);
    expect(pack({ rows: 2.5, shift: [0, 0] })).toMatch(/"rows" \(u32\) = 2.5/);
  });
});
