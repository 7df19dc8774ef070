/**
 * The loss appended to the forward graph: its extra inputs, the per-example loss and log-likelihood outputs, and the
 * gradient of the summed loss with respect to the logits (or outputs) that seeds the backward pass. The seed is
 * written in closed form (softmax − one-hot, masked; 2·(y − t)) rather than differentiated through the loss ops.
 */
import { DataType } from '../ir';
import type { LossSpec } from '../gradient-spec';
import type { Emitter } from './emitter';
import type { GraphFacts } from './facts';

/** The loss's inputs are registered on the emitter's builder as graph inputs. */
export interface AppendedLoss {
  readonly labels: string;
  readonly lossMask: string | null;
  readonly loss: string;
  readonly tokenLogLikelihoods: string | null;
  /** The forward value the seed is the gradient of. */
  readonly seeded: string;
  readonly seed: string;
}

export const LOSS_NAMES = {
  labels: 'labels',
  targets: 'targets',
  lossMask: 'loss_mask',
  loss: 'loss',
  tokenLogLikelihoods: 'token_log_likelihood',
};

export function appendLoss(emit: Emitter, facts: GraphFacts, spec: LossSpec, predicted: string): AppendedLoss {
  const { type, dims } = facts.facts(predicted);
  const floatType = type === DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
  if (spec.kind === 'mse') {
    const targets = emit.builder.input(LOSS_NAMES.targets, floatType, dims);
    const difference = emit.op('Sub', [predicted, targets]);
    const squares = emit.reshape(emit.op('Mul', [difference, difference]), [0, -1]);
    emit.node('ReduceSum', [squares, emit.int64([1])], { keepdims: 0 }, [LOSS_NAMES.loss]);
    return {
      labels: targets,
      lossMask: null,
      loss: LOSS_NAMES.loss,
      tokenLogLikelihoods: null,
      seeded: predicted,
      seed: emit.op('Mul', [difference, emit.scalar(2, floatType)]),
    };
  }
  const perToken = spec.kind === 'token-cross-entropy';
  const labelDims = dims ? dims.slice(0, -1) : null;
  const labels = emit.builder.input(LOSS_NAMES.labels, DataType.INT64, labelDims);
  // Negative labels (the −100 convention) are masked positions: gather at 0 there, the mask zeroes them.
  const zero = emit.int64([0], true);
  const safeLabels = emit.op('Where', [emit.op('Less', [labels, zero]), zero, labels]);
  const column = emit.unsqueeze(safeLabels, [-1]);
  const logProbabilities = emit.op('LogSoftmax', [predicted], { axis: -1 });
  const picked = emit.op('Squeeze', [
    emit.op('GatherElements', [logProbabilities, column], { axis: -1 }),
    emit.int64([-1]),
  ]);
  const vocabulary = emit.reshape(emit.dimOf(predicted, -1), []);
  const classes = emit.op('Range', [zero, vocabulary, emit.int64([1], true)]);
  const oneHot = emit.op('Cast', [emit.op('Equal', [column, classes])], { to: floatType });
  const residual = emit.op('Sub', [emit.op('Exp', [logProbabilities]), oneHot]);
  if (!perToken) {
    emit.node('Identity', [picked], {}, [LOSS_NAMES.tokenLogLikelihoods]);
    emit.node('Neg', [picked], {}, [LOSS_NAMES.loss]);
    return {
      labels,
      lossMask: null,
      loss: LOSS_NAMES.loss,
      tokenLogLikelihoods: LOSS_NAMES.tokenLogLikelihoods,
      seeded: predicted,
      seed: residual,
    };
  }
  const lossMask = emit.builder.input(LOSS_NAMES.lossMask, floatType, labelDims);
  emit.node('Mul', [picked, lossMask], {}, [LOSS_NAMES.tokenLogLikelihoods]);
  const summed = emit.reduceSum(LOSS_NAMES.tokenLogLikelihoods, [1], false);
  emit.node('Neg', [summed], {}, [LOSS_NAMES.loss]);
  return {
    labels,
    lossMask,
    loss: LOSS_NAMES.loss,
    tokenLogLikelihoods: LOSS_NAMES.tokenLogLikelihoods,
    seeded: predicted,
    seed: emit.op('Mul', [residual, emit.unsqueeze(lossMask, [-1])]),
  };
}
