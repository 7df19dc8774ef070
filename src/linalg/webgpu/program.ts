/**
 * Kernel descriptions: one per WGSL entry point, naming its uniform struct's fields (in declaration order, with WGSL
 * types) and its storage bindings (name, @binding index, access). The uniform buffer layout is derived from the
 * description with WGSL's alignment rules, so call sites pass named values and never count words; a unit test
 * (tests/unit/kernel-programs.test.ts) parses every shader and checks each description against it.
 */

/** Host-shareable WGSL types a uniform field may have (bool is not host-shareable). */
export type UniformType =
  | 'u32'
  | 'i32'
  | 'f32'
  | 'vec2<u32>'
  | 'vec2<i32>'
  | 'vec2<f32>'
  | 'vec3<u32>'
  | 'vec3<i32>'
  | 'vec3<f32>'
  | 'vec4<u32>'
  | 'vec4<i32>'
  | 'vec4<f32>';

export interface UniformField {
  readonly name: string;
  readonly type: UniformType;
}

/** A storage buffer binding: `var<storage, read>` or `var<storage, read_write>`. */
export interface StorageBinding {
  readonly name: string;
  /** The @binding index in @group(0); 0 is always the uniform struct. */
  readonly binding: number;
  readonly access: 'read' | 'read_write';
}

export interface KernelProgram<
  U extends readonly UniformField[] = readonly UniformField[],
  B extends readonly StorageBinding[] = readonly StorageBinding[],
> {
  /** shaders/<shader>.wgsl */
  readonly shader: string;
  readonly entryPoint: string;
  /** The fields of the struct bound at @binding(0) as var<uniform>, in order. */
  readonly uniforms: U;
  readonly bindings: B;
  /** Names of the WGSL `override` constants a call may set. */
  readonly constants?: readonly string[];
}

/** Keeps the literal names and types of a description, so call sites are type-checked against it. */
export function kernelProgram<const U extends readonly UniformField[], const B extends readonly StorageBinding[]>(
  program: KernelProgram<U, B>,
): KernelProgram<U, B> {
  return program;
}

type ValueOf<T extends UniformType> = T extends `vec${string}` ? readonly number[] : number | boolean;

/** Named uniform values; booleans become 0/1 (WGSL flags are u32). */
export type UniformValues<P extends KernelProgram> = {
  readonly [F in P['uniforms'][number] as F['name']]: ValueOf<F['type']>;
};

/** Named storage operands, one per binding of the description. */
export type BindingValues<P extends KernelProgram, T> = { readonly [F in P['bindings'][number] as F['name']]: T };

interface FieldLayout {
  readonly field: UniformField;
  readonly offset: number;
  readonly components: number;
  readonly scalar: 'u32' | 'i32' | 'f32';
}

export interface UniformLayout {
  readonly fields: readonly FieldLayout[];
  readonly names: ReadonlySet<string>;
  /** The struct's size (its binding's minimum size): the end of the last field rounded up to the struct alignment. */
  readonly size: number;
}

/** WGSL alignment and size: scalars 4/4, vec2 8/8, vec3 16/12, vec4 16/16 (WGSL spec, "Alignment and Size"). */
function alignAndSize(type: UniformType): { align: number; size: number; components: number } {
  const components = type.startsWith('vec') ? Number(type[3]) : 1;
  if (components === 1) return { align: 4, size: 4, components };
  return { align: components === 2 ? 8 : 16, size: 4 * components, components };
}

const roundUp = (value: number, multiple: number) => Math.ceil(value / multiple) * multiple;

export function uniformLayout(uniforms: readonly UniformField[]): UniformLayout {
  let end = 0;
  let structAlign = 4;
  const fields = uniforms.map((field) => {
    const { align, size, components } = alignAndSize(field.type);
    const offset = roundUp(end, align);
    end = offset + size;
    structAlign = Math.max(structAlign, align);
    const scalar = (components === 1 ? field.type : field.type.slice(5, 8)) as FieldLayout['scalar'];
    return { field, offset, components, scalar };
  });
  return { fields, names: new Set(uniforms.map((u) => u.name)), size: roundUp(Math.max(end, 4), structAlign) };
}

/** Three views of one uniform staging buffer, made once (packing runs for every dispatch). */
export interface UniformViews {
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
}

export function uniformViews(buffer: ArrayBuffer): UniformViews {
  return { u32: new Uint32Array(buffer), i32: new Int32Array(buffer), f32: new Float32Array(buffer) };
}

/**
 * Writes the named values at the layout's offsets (in bytes from `byteOffset`). Returns a problem string naming the
 * field when a value is missing, unknown or does not fit its type.
 */
export function packUniforms(
  layout: UniformLayout,
  values: Readonly<Record<string, unknown>>,
  views: UniformViews,
  byteOffset: number,
): string | null {
  for (const name in values)
    if (!layout.names.has(name)) return `uniform "${name}" is not a field of the kernel's Params`;
  for (const { field, offset, components, scalar } of layout.fields) {
    const raw = values[field.name];
    if (raw === undefined) return `uniform "${field.name}" (${field.type}) has no value`;
    const list = components === 1 ? [raw] : (raw as readonly unknown[]);
    if (!Array.isArray(list) || list.length !== components) {
      return `uniform "${field.name}" (${field.type}) needs ${components} components`;
    }
    for (let c = 0; c < components; c++) {
      const value = typeof list[c] === 'boolean' ? Number(list[c]) : list[c];
      const index = (byteOffset + offset) / 4 + c;
      if (typeof value !== 'number') return `uniform "${field.name}" (${field.type}) is not a number`;
      if (scalar === 'f32') {
        views.f32[index] = value;
      } else if (scalar === 'u32') {
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
          return `uniform "${field.name}" (u32) = ${value} is not an integer in [0, 2^32)`;
        }
        views.u32[index] = value;
      } else {
        if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
          return `uniform "${field.name}" (i32) = ${value} is not a 32-bit integer`;
        }
        views.i32[index] = value;
      }
    }
  }
  return null;
}
