/**
 * One entry of the op registry (ops/index.ts): how an ONNX op's outputs follow from its inputs (static shape
 * inference) and its vector-Jacobian product, side by side. Every entry is optional in its parts: an op that only
 * computes shapes (Shape, Range, Equal, …) has no VJP; an op refused up front carries the reason instead.
 */
import type { DataType, Dim, Graph, Node } from '../../ir';
import type { GraphFacts, ValueFacts } from '../facts';
import type { Vjp } from '../vjp-context';

/** What an op's inference rule sees of its node's inputs. Absent optional inputs read as unknown. */
export interface InferContext {
  readonly node: Node;
  readonly opset: number;
  /** Facts of input `index` (type and dims; both null when unknown or absent). */
  input(index: number): ValueFacts;
  /** Element values of input `index` when it is a small integer tensor known statically (numbers or dims). */
  content(index: number): readonly Dim[] | null;
  /** content(index) when every element is a number. */
  ints(index: number): number[] | null;
  /** An axes list: the `axes` attribute before `sinceOpset`, input `index` (a constant) from it on. */
  axes(index: number, sinceOpset: number): number[] | null;
  /** Facts inside a subgraph (If's branches), which may read this graph's values. */
  subgraph(graph: Graph): GraphFacts & { readonly outputs: readonly ValueFacts[] };
}

/**
 * What a rule infers for one output. `type` undefined keeps input 0's type; `dims` undefined or null means unknown;
 * `content` is the element values of a small integer output (a shape vector), when derivable.
 */
export interface Inferred {
  readonly type?: DataType | null;
  readonly dims?: readonly Dim[] | null;
  readonly content?: readonly Dim[] | null;
}

export type Infer = (ctx: InferContext) => readonly Inferred[];

export interface OpEntry {
  readonly infer?: Infer;
  readonly vjp?: Vjp;
  /**
   * Set for ops the gradient graph cannot take: one line naming what to do instead (how to export without it). Such an
   * op on the gradient path is refused before any other work.
   */
  readonly refuse?: string;
}

/** Op type (default domain) or `domain.OpType` (e.g. `com.microsoft.RotaryEmbedding`) → entry. */
export type OpTable = Readonly<Record<string, OpEntry>>;
