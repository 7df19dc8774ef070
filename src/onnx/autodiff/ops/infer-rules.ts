/** Inference rules several op families share: same shape as input 0, and numpy broadcasting of inputs. */
import { DataType, type Dim } from '../../ir';
import { broadcastDims, contentArithmetic } from '../facts';
import type { Infer } from './types';

/** Output 0 has input 0's dims; its type is input 0's unless given. */
export function sameShape(type?: DataType): Infer {
  return (ctx) => [{ type: type ?? ctx.input(0).type, dims: ctx.input(0).dims }];
}

/** Output 0 broadcasts every input; its type is input `typeFrom`'s (or `type`). Add/Sub/Mul/Div keep shape content. */
export function broadcast(options: { type?: DataType; typeFrom?: number; arithmetic?: boolean } = {}): Infer {
  return (ctx) => {
    const dims = broadcastDims(ctx.node.inputs.map((_, i) => ctx.input(i).dims));
    const type = options.type ?? ctx.input(options.typeFrom ?? 0).type;
    const content = options.arithmetic
      ? contentArithmetic(ctx.node.opType, ctx.content(0) as Dim[] | null, ctx.content(1) as Dim[] | null)
      : null;
    return [{ type, dims, content }];
  };
}

export const BOOL = DataType.BOOL;
export const INT64 = DataType.INT64;
