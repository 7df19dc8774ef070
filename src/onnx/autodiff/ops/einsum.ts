/**
 * Einsum as exporters write it (torch.einsum passes its equation through): the output's dims from the subscripts,
 * and for one or two operands the gradient of each operand as another Einsum — for y = einsum(S_a, S_b → S_y),
 * ∂L/∂a = einsum(S_y, S_b → S_a) — valid when a's subscripts repeat no letter and each of them appears in S_y or S_b
 * (otherwise a letter was summed away within a alone and its gradient would need a broadcast; refused naming it).
 */
import type { Dim } from '../../ir';
import { broadcastDims, sameDim, stringAttr } from '../facts';
import type { Vjp } from '../vjp-context';
import type { Infer, OpEntry } from './types';

/** One operand's subscripts as tokens: letters, and '...' for an ellipsis. */
type Terms = string[];

function terms(subscripts: string): Terms {
  const out: Terms = [];
  for (let i = 0; i < subscripts.length; i++) {
    if (subscripts.startsWith('...', i)) {
      out.push('...');
      i += 2;
    } else if (subscripts[i] !== ' ') out.push(subscripts[i]);
  }
  return out;
}

export interface ParsedEinsum {
  readonly inputs: Terms[];
  readonly output: Terms;
}

export function parseEinsum(equation: string): ParsedEinsum {
  const [lhs, rhs] = equation.split('->');
  const inputs = lhs.split(',').map(terms);
  if (rhs !== undefined) return { inputs, output: terms(rhs) };
  // Implicit output: the letters that appear once, in alphabetical order, after any ellipsis.
  const counts = new Map<string, number>();
  for (const t of inputs.flat()) if (t !== '...') counts.set(t, (counts.get(t) ?? 0) + 1);
  const once = [...counts].filter(([, n]) => n === 1).map(([t]) => t);
  const ellipsis = inputs.some((i) => i.includes('...')) ? ['...'] : [];
  return { inputs, output: [...ellipsis, ...once.sort()] };
}

const einsumInfer: Infer = (ctx) => {
  const { inputs, output } = parseEinsum(stringAttr(ctx.node, 'equation', ''));
  const sizes = new Map<string, Dim>();
  const ellipses: (readonly Dim[])[] = [];
  for (const [i, subscripts] of inputs.entries()) {
    const dims = ctx.input(i).dims;
    if (!dims) return [{}];
    const ellipsisRank = dims.length - subscripts.filter((t) => t !== '...').length;
    let at = 0;
    for (const t of subscripts) {
      if (t === '...') {
        ellipses.push(dims.slice(at, at + ellipsisRank));
        at += ellipsisRank;
        continue;
      }
      const d = dims[at++];
      const known = sizes.get(t);
      sizes.set(t, known === undefined || known === 1 ? d : typeof known === 'number' ? known : (d ?? known));
    }
  }
  const ellipsis = ellipses.length ? broadcastDims(ellipses) : [];
  if (!ellipsis) return [{}];
  return [{ dims: output.flatMap((t) => (t === '...' ? ellipsis : [sizes.get(t) ?? null])) }];
};

/** Whether an operand's ellipsis dims are statically those of the output's (so no broadcast happened there). */
function sameEllipsis(dims: readonly Dim[] | null, mine: Terms, out: readonly Dim[] | null, output: Terms): boolean {
  if (!dims || !out) return false;
  const part = (d: readonly Dim[], t: Terms) => {
    const at = t.indexOf('...');
    const rank = d.length - (t.length - 1);
    return at < 0 ? [] : d.slice(at, at + rank);
  };
  const [a, b] = [part(dims, mine), part(out, output)];
  return a.length === b.length && a.every((d, k) => sameDim(d, b[k]));
}

const einsumVjp: Vjp = (ctx, [gy]) => {
  const inputs = ctx.node.inputs;
  if (!gy) return inputs.map(() => null);
  const equation = stringAttr(ctx.node, 'equation', '');
  const parsed = parseEinsum(equation);
  if (parsed.inputs.length > 2)
    throw ctx.fail(`an Einsum of ${parsed.inputs.length} operands has no gradient rule here (one or two only)`);
  const join = (t: Terms) => t.join('');
  const out = ctx.facts.facts(ctx.node.outputs[0]).dims;
  return inputs.map((input, i) => {
    if (!ctx.wants(i)) return null;
    const mine = parsed.inputs[i];
    const other = parsed.inputs.length === 2 ? parsed.inputs[1 - i] : null;
    const letters = mine.filter((t) => t !== '...');
    if (new Set(letters).size !== letters.length)
      throw ctx.fail(`operand ${i} of "${equation}" repeats a subscript (a diagonal): no gradient rule for it`);
    const lost = letters.filter((t) => !parsed.output.includes(t) && !(other ?? []).includes(t));
    if (lost.length > 0)
      throw ctx.fail(
        `subscript "${lost.join('')}" of operand ${i} in "${equation}" is summed within that operand alone`,
      );
    if (mine.includes('...') && !sameEllipsis(ctx.facts.facts(input).dims, mine, out, parsed.output))
      throw ctx.fail(`operand ${i} of "${equation}" may broadcast its ellipsis: no gradient rule for it`);
    const back = other
      ? `${join(parsed.output)},${join(other)}->${join(mine)}`
      : `${join(parsed.output)}->${join(mine)}`;
    return ctx.emit.op('Einsum', other ? [gy, inputs[1 - i]] : [gy], { equation: back });
  });
};

export const einsumOps: Record<string, OpEntry> = { Einsum: { infer: einsumInfer, vjp: einsumVjp } };
