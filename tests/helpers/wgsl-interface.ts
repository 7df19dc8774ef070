/**
 * A small reader of the WGSL resource interface, enough for our shaders: structs, @group/@binding variables,
 * `override` constants, functions, and which resource variables each entry point uses (through the functions it
 * calls). It is the second opinion the kernel-description test holds each KernelProgram against.
 */

export interface WgslResource {
  readonly name: string;
  readonly binding: number;
  /** 'uniform', or the storage access mode ('read' when the declaration leaves it out). */
  readonly access: 'uniform' | 'read' | 'read_write';
  readonly type: string;
}

export interface WgslModule {
  readonly structs: ReadonlyMap<string, readonly { name: string; type: string }[]>;
  readonly resources: readonly WgslResource[];
  readonly overrides: readonly string[];
  readonly entryPoints: readonly string[];
  /** Resource variables the entry point (or a function it calls, transitively) refers to. */
  resourcesUsedBy(entryPoint: string): WgslResource[];
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
}

/** Splits at commas outside <…> and (…). */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '<' || ch === '(') depth++;
    if (ch === '>' || ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** The text between the brace at `open` and its match. */
function braced(source: string, open: number): string {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    if (source[i] === '{') depth++;
    if (source[i] === '}' && --depth === 0) return source.slice(open + 1, i);
  }
  throw new Error(`unbalanced braces after offset ${open}`);
}

/** Identifiers in code, leaving out member accesses (`.x`) so a field never counts as a use of a variable. */
function identifiers(code: string): Set<string> {
  const out = new Set<string>();
  for (const match of code.matchAll(/(?<![.\w])[A-Za-z_]\w*/g)) out.add(match[0]);
  return out;
}

export function parseWgsl(raw: string): WgslModule {
  const source = stripComments(raw);
  const structs = new Map<string, { name: string; type: string }[]>();
  for (const match of source.matchAll(/\bstruct\s+(\w+)\s*\{/g)) {
    const body = braced(source, match.index! + match[0].length - 1);
    const fields = splitTopLevel(body).map((field) => {
      const [name, type] = field.split(':').map((s) => s.trim());
      return { name: name!.replace(/^@\w+(\([^)]*\))?\s*/, ''), type: type!.replace(/\s+/g, '') };
    });
    structs.set(match[1]!, fields);
  }
  const resources: WgslResource[] = [];
  const declaration = /@group\(\s*(\d+)\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*([\w\s,]+)>\s*(\w+)\s*:\s*([^;]+);/g;
  for (const match of source.matchAll(declaration)) {
    if (match[1] !== '0') throw new Error(`${match[4]}: only @group(0) is expected, found @group(${match[1]})`);
    const [space, mode] = match[3]!.split(',').map((s) => s.trim());
    const access = space === 'uniform' ? 'uniform' : mode === 'read_write' ? 'read_write' : 'read';
    resources.push({ name: match[4]!, binding: Number(match[2]), access, type: match[5]!.replace(/\s+/g, '') });
  }
  const overrides = [...source.matchAll(/\boverride\s+(\w+)/g)].map((m) => m[1]!);
  const functions = new Map<string, string>();
  const entryPoints: string[] = [];
  for (const match of source.matchAll(/((?:@[\w]+(?:\([^)]*\))?\s*)*)\bfn\s+(\w+)\s*\(/g)) {
    const open = source.indexOf('{', match.index! + match[0].length);
    functions.set(match[2]!, braced(source, open));
    if (/@compute\b/.test(match[1]!)) entryPoints.push(match[2]!);
  }
  const resourcesUsedBy = (entryPoint: string): WgslResource[] => {
    if (!functions.has(entryPoint)) throw new Error(`no function ${entryPoint}`);
    const seen = new Set<string>();
    const used = new Set<string>();
    const visit = (fn: string) => {
      if (seen.has(fn)) return;
      seen.add(fn);
      for (const id of identifiers(functions.get(fn)!)) {
        if (functions.has(id)) visit(id);
        else used.add(id);
      }
    };
    visit(entryPoint);
    return resources.filter((r) => used.has(r.name)).sort((a, b) => a.binding - b.binding);
  };
  return { structs, resources, overrides, entryPoints, resourcesUsedBy };
}
