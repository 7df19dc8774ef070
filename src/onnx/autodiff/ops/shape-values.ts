/**
 * Ops that make values rather than transform them: Constant, Shape, Size, ConstantOfShape, Range, NonZero. Their
 * outputs are constant with respect to the tracked layers (Constant's VJP is empty), and the small integer ones are
 * the shape vectors other rules read back as content.
 */
import { DataType, type Dim } from '../../ir';
import { constantNodeTensor, intAttr, normalizeAxis, tensorInts } from '../facts';
import { INT64 } from './infer-rules';
import type { Infer, OpEntry } from './types';

const constantInfer: Infer = (ctx) => {
  const tensor = constantNodeTensor(ctx.node);
  if (!tensor) return [{ type: null }];
  const content = tensor.data.length <= 64 ? tensorInts(tensor) : null;
  return [{ type: tensor.dataType, dims: [...tensor.dims], content }];
};

const shapeInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  if (!x) return [{ type: INT64, dims: [null] }];
  const rank = x.length;
  const start = normalizeAxis(intAttr(ctx.node, 'start', 0), rank);
  const end = ctx.node.attributes.end ? normalizeAxis(intAttr(ctx.node, 'end', rank), rank) : rank;
  const content = x.slice(Math.max(0, start), Math.min(end, rank));
  return [{ type: INT64, dims: [content.length], content }];
};

const sizeInfer: Infer = (ctx) => {
  const x = ctx.input(0).dims;
  const known = x?.every((d) => typeof d === 'number') ? [(x as number[]).reduce((p, d) => p * d, 1)] : null;
  return [{ type: INT64, dims: [], content: known }];
};

const constantOfShapeInfer: Infer = (ctx) => {
  const value = ctx.node.attributes.value;
  const type = value?.type === 'tensor' ? value.value.dataType : DataType.FLOAT;
  const shape = ctx.content(0);
  const shapeDims = ctx.input(0).dims;
  const dims = shape
    ? [...shape]
    : shapeDims && typeof shapeDims[0] === 'number'
      ? new Array<Dim>(shapeDims[0]).fill(null)
      : null;
  return [{ type, dims }];
};

const rangeInfer: Infer = (ctx) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => ctx.content(i)?.[0] ?? null);
  let dims: Dim[] = [null];
  if (start === 0 && delta === 1 && limit !== null) dims = [limit];
  else if (typeof start === 'number' && typeof limit === 'number' && typeof delta === 'number')
    dims = [Math.max(0, Math.ceil((limit - start) / delta))];
  return [{ dims }];
};

export const valueOps: Record<string, OpEntry> = {
  Constant: { infer: constantInfer, vjp: () => [] },
  Shape: { infer: shapeInfer },
  Size: { infer: sizeInfer },
  ConstantOfShape: { infer: constantOfShapeInfer },
  Range: { infer: rangeInfer },
  NonZero: { infer: (ctx) => [{ type: INT64, dims: [ctx.input(0).dims?.length ?? null, null] }] },
};
