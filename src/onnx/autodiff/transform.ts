/**
 * Forward model + gradient spec → gradient model: reverse-mode autodiff over the forward graph's topological order.
 *
 * Only what the outputs need is differentiated. A value is *active* when it is floating point and depends on a
 * source (a tracked layer's output, or with parameterGradients any floating-point initializer); it is *relevant*
 * when the loss depends on it through floating-point values. Nodes with an active and relevant output get a VJP;
 * everything else — integer and
 * boolean side paths (Shape, Range, Equal, Where conditions, …), values computed only from constants — is treated
 * as constant. Ops on the gradient path without a VJP are all reported before any node is emitted.
 */
import { DataType, defaultOpset, isFloatType, type Dim, type Graph, type Model, type Node } from '../ir';
import type { GradientGraph, GradientSpec, TrackedLayer } from '../gradient-spec';
import { Emitter } from './emitter';
import { appendLoss, LOSS_NAMES } from './loss';
import { UnknownShapeError } from './facts';
import { inferFacts, type GraphFacts } from './shapes';
import { findTrackedLayers } from './tracked';
import { opEntry, opKey, SUPPORTED_OPS } from './ops';
import type { VjpContext } from './vjp-context';

export { SUPPORTED_OPS };

const MIN_OPSET = 13;

function nodeLabel(node: Node): string {
  return `node "${node.name || '(unnamed)'}"`;
}

function checkTopologicalOrder(graph: Graph): void {
  const defined = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      if (input && !defined.has(input)) {
        throw new Error(
          `graph "${graph.name}" is not in topological order or is missing a value: ${nodeLabel(node)} (${node.opType}) reads "${input}" before it is defined`,
        );
      }
    }
    for (const output of node.outputs) if (output) defined.add(output);
  }
}

function predictedValue(graph: Graph, facts: GraphFacts, spec: GradientSpec): string {
  const named = spec.loss.kind === 'mse' ? spec.loss.output : spec.loss.logits;
  const candidates = graph.outputs.filter((o) => isFloatType(o.elemType));
  const name = named ?? candidates[0]?.name;
  if (!name) throw new Error(`graph "${graph.name}" has no floating-point output to put a ${spec.loss.kind} loss on`);
  const type = facts.facts(name).type;
  if (type !== DataType.FLOAT && type !== DataType.DOUBLE) {
    throw new Error(
      `loss input "${name}" must be float32 or float64 (found ${type === null ? 'an unknown type' : DataType[type]}; is it a value of graph "${graph.name}"?)`,
    );
  }
  return name;
}

export function buildGradientModel(model: Model, spec: GradientSpec): GradientGraph {
  const graph = model.graph;
  const opset = defaultOpset(model);
  if (opset < MIN_OPSET)
    throw new Error(
      `gradient graphs need ai.onnx opset ≥ ${MIN_OPSET}; model "${graph.name}" has opset ${opset} (re-export with opset_version=17)`,
    );
  checkTopologicalOrder(graph);
  const facts = inferFacts(graph, opset, spec.observed);
  const predicted = predictedValue(graph, facts, spec);
  const layers = findTrackedLayers(graph, spec.tracked);
  const isActiveType = (value: string): boolean => {
    const type = facts.facts(value).type;
    return type === null || type === DataType.FLOAT || type === DataType.DOUBLE;
  };

  const active = new Set<string>();
  // Scalars are the constants exporters store as initializers (√d, 1e-5, …), not parameters.
  const parameters = spec.parameterGradients
    ? [...graph.initializers.values()].filter((t) => isFloatType(t.dataType) && t.dims.length > 0).map((t) => t.name)
    : [];
  for (const name of parameters) active.add(name);
  const sourceOutputs = new Set(layers.map((l) => l.output));
  for (const node of graph.nodes) {
    const fed = node.inputs.some((i) => active.has(i));
    for (const output of node.outputs)
      if (output && (fed || sourceOutputs.has(output)) && isActiveType(output)) active.add(output);
  }
  // Relevance flows only along floating-point edges: a value read only by Shape (or as a Where condition, …) is not.
  const relevant = new Set<string>([predicted]);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    if (node.outputs.some((o) => relevant.has(o)))
      for (const input of node.inputs) if (input && isActiveType(input)) relevant.add(input);
  }
  const onPath = graph.nodes.filter((node) => node.outputs.some((o) => active.has(o) && relevant.has(o)));
  const refused = onPath.find((node) => opEntry(node)?.refuse);
  if (refused)
    throw new Error(
      `cannot differentiate ${opKey(refused)} at ${nodeLabel(refused)} (on the gradient path): ${opEntry(refused)!.refuse}`,
    );
  const unsupported = onPath.filter((node) => !opEntry(node)?.vjp);
  if (unsupported.length > 0) {
    const list = unsupported
      .map((n) => `unsupported op "${n.domain ? n.domain + '.' : ''}${n.opType}" at ${nodeLabel(n)}`)
      .join('; ');
    throw new Error(
      `${list} (on the gradient path from the tracked layers to the loss; ops with VJPs: ${SUPPORTED_OPS.join(', ')})`,
    );
  }
  for (const layer of layers) {
    if (!relevant.has(layer.output))
      throw new Error(
        `tracked layer ${layer.node.opType} "${layer.node.name}" does not affect the loss on "${predicted}"`,
      );
  }

  const emit = new Emitter(graph, opset);
  for (const reserved of Object.values(LOSS_NAMES)) {
    if (emit.builder.hasValue(reserved))
      throw new Error(
        `model "${graph.name}" already has a value named "${reserved}", which the gradient graph reserves for its loss`,
      );
  }
  const loss = appendLoss(emit, facts, spec.loss, predicted);

  const contributions = new Map<string, string[]>();
  const addContribution = (value: string, grad: string): void => {
    contributions.set(value, [...(contributions.get(value) ?? []), grad]);
  };
  const finalGrads = new Map<string, string>();
  const gradientOf = (value: string): string | null => {
    const done = finalGrads.get(value);
    if (done) return done;
    const parts = contributions.get(value);
    if (!parts) return null;
    const total = emit.sum(parts);
    finalGrads.set(value, total);
    return total;
  };
  addContribution(loss.seeded, loss.seed);
  for (let i = onPath.length - 1; i >= 0; i--) {
    const node = onPath[i];
    const outputGrads = node.outputs.map((o) => (o ? gradientOf(o) : null));
    if (outputGrads.every((g) => g === null)) continue;
    const ctx: VjpContext = {
      emit,
      facts,
      opset,
      node,
      wants: (index) => !!node.inputs[index] && active.has(node.inputs[index]),
      floatType: (value) => (facts.facts(value).type === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT),
      rank: (value) => {
        const dims = facts.facts(value).dims;
        if (!dims)
          throw new UnknownShapeError(
            `cannot differentiate ${node.opType} at ${nodeLabel(node)}: the rank of "${value}" is unknown (neither the graph nor static inference${spec.observed ? ' nor a forward run' : ''} gives it)`,
            value,
          );
        return dims.length;
      },
      fail: (reason) => new Error(`cannot differentiate ${node.opType} at ${nodeLabel(node)}: ${reason}`),
    };
    const inputGrads = opEntry(node)!.vjp!(ctx, outputGrads);
    inputGrads.forEach((grad, index) => {
      if (grad && ctx.wants(index)) addContribution(node.inputs[index], grad);
    });
  }

  const floatType = facts.facts(predicted).type as DataType;
  const output = (name: string, type: DataType, shape: readonly Dim[]): void => emit.builder.output(name, type, shape);
  const batch = facts.facts(predicted).dims?.[0] ?? 'batch';
  output(loss.loss, floatType, [batch]);
  if (loss.tokenLogLikelihoods)
    output(loss.tokenLogLikelihoods, floatType, facts.facts(predicted).dims?.slice(0, -1) ?? [batch, 'sequence']);
  // a and g become [B, T, d] with B taken from the first graph input's axis 0, so that a layer applied to
  // flattened rows [B·T, d] (HF Conv1D exports as Reshape → Gemm) still yields per-sequence token rows.
  const batchSize = graph.inputs.length > 0 && layers.length > 0 ? emit.dimOf(graph.inputs[0].name, 0) : null;
  const tokenRows = (width: number) =>
    batchSize ? emit.op('Concat', [batchSize, emit.int64([-1, width])], { axis: 0 }) : emit.int64([0, -1, width]);
  const tracked: TrackedLayer[] = layers.map((layer, index) => {
    const g = gradientOf(layer.output);
    if (!g) throw new Error(`tracked layer "${layer.node.name}" received no gradient from the loss`);
    const activationOutput = `tracked/${index}/activation`;
    const gradientOutput = `tracked/${index}/output_grad`;
    // Gemm transA = 1 reads its rows as columns; alpha scales the product, so alpha·a pairs with g to give dW.
    let input = layer.inputTransposed ? emit.op('Transpose', [layer.input], { perm: [1, 0] }) : layer.input;
    const type = facts.facts(layer.output).type ?? floatType;
    if (layer.inputScale !== 1) input = emit.op('Mul', [input, emit.scalar(layer.inputScale, type)]);
    emit.node('Reshape', [input, tokenRows(layer.dIn)], {}, [activationOutput]);
    emit.node('Reshape', [g, tokenRows(layer.dOut)], {}, [gradientOutput]);
    output(activationOutput, type, [batch, 'tokens', layer.dIn]);
    output(gradientOutput, type, [batch, 'tokens', layer.dOut]);
    return {
      nodeName: layer.node.name,
      opType: layer.node.opType as 'MatMul' | 'Gemm',
      weightName: layer.weightName,
      weightLayout: layer.weightLayout,
      dIn: layer.dIn,
      dOut: layer.dOut,
      hasBias: layer.biasName !== null,
      biasName: layer.biasName,
      biasNodeName: layer.biasNodeName,
      activationOutput,
      gradientOutput,
    };
  });

  let parameterGradients: Map<string, string> | null = null;
  if (spec.parameterGradients) {
    parameterGradients = new Map();
    for (const name of parameters) {
      const tensor = graph.initializers.get(name)!;
      const gradName = `grad/${name}`;
      const grad = gradientOf(name);
      if (grad) emit.node('Identity', [grad], {}, [gradName]);
      else
        emit.node('ConstantOfShape', [emit.int64(tensor.dims)], { value: emit.fillValue(0, tensor.dataType) }, [
          gradName,
        ]);
      parameterGradients.set(name, gradName);
      output(gradName, tensor.dataType, tensor.dims);
    }
  }

  const gradientModel: Model = { ...model, graph: { ...emit.builder.build().graph, name: `${graph.name}_gradients` } };
  return {
    model: gradientModel,
    floatType,
    layers: tracked,
    inputs: { forward: graph.inputs.map((i) => i.name), labels: loss.labels, lossMask: loss.lossMask },
    outputs: {
      forward: graph.outputs.map((o) => o.name),
      loss: loss.loss,
      tokenLogLikelihoods: loss.tokenLogLikelihoods,
      parameterGradients,
    },
  };
}
