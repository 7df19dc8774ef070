/**
 * The op registry: every ONNX op the workbench knows, by family, each entry holding its shape-inference rule and its
 * VJP together (ops/types.ts). Shape inference (shapes.ts) and the gradient builder (transform.ts) both read it.
 * Adding an op: put its entry in its family's file (or a new family file listed here) with a finite-difference test
 * in tests/unit/vjp.test.ts (docs/architecture.md, "An op's VJP").
 */
import type { Node } from '../../ir';
import { contribOps } from './contrib';
import { controlOps } from './control';
import { elementwiseOps } from './elementwise';
import { linearOps } from './linear';
import { normalizationOps } from './normalization';
import { reduceOps } from './reduce';
import { shapeOps } from './shape';
import { valueOps } from './shape-values';
import type { OpEntry, OpTable } from './types';

export type { Infer, InferContext, Inferred, OpEntry } from './types';

export const OPS: OpTable = {
  ...elementwiseOps,
  ...linearOps,
  ...normalizationOps,
  ...reduceOps,
  ...shapeOps,
  ...valueOps,
  ...controlOps,
  ...contribOps,
};

/** The registry key of a node: its op type in the default domain, `domain.OpType` elsewhere. */
export function opKey(node: Pick<Node, 'domain' | 'opType'>): string {
  return node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}.${node.opType}`;
}

export function opEntry(node: Pick<Node, 'domain' | 'opType'>): OpEntry | undefined {
  return Object.prototype.hasOwnProperty.call(OPS, opKey(node)) ? OPS[opKey(node)] : undefined;
}

/** Registry keys with a VJP (for documentation and error messages). */
export const SUPPORTED_OPS: readonly string[] = Object.keys(OPS)
  .filter((key) => OPS[key].vjp)
  .sort();
