/**
 * ONNX fuzz cases: damaged model bytes and structurally edited graphs through the parser, the input_ids type check,
 * the structural embedding search and (for a share of cases) the gradient-graph transform — not onnxruntime.
 */
import { buildGradientGraph } from '../../src/onnx/gradient-graph';
import { DataType, type Model } from '../../src/onnx/ir';
import { OnnxFormatError, parseModel, serializeModel } from '../../src/onnx/protobuf';
import { findEmbeddings } from '../../src/onnx/structure';
import { checkIdsInput } from '../../src/app/input-checks';
import { InputError } from '../../src/app/input-error';
import { seededDemoModel } from '../../src/app/demo-model';
import { damageBytes, isEngineError, violation, type Outcome, type Random } from './classify';

export interface OnnxSetup {
  readonly model: Model;
  readonly bytes: Uint8Array;
}

export function onnxSetup(): OnnxSetup {
  const model = seededDemoModel('micro', 64, 32).model;
  return { model, bytes: serializeModel(model) };
}

function editGraph(random: Random, model: Model): Model {
  const graph = model.graph;
  const nodes = [...graph.nodes];
  switch (random.int(5)) {
    case 0: {
      nodes.splice(random.int(nodes.length), 1);
      return { ...model, graph: { ...graph, nodes } };
    }
    case 1: {
      const type = random.pick([DataType.FLOAT, DataType.DOUBLE, DataType.INT32, DataType.STRING, DataType.BOOL]);
      return {
        ...model,
        graph: { ...graph, inputs: graph.inputs.map((i) => (i.name === 'input_ids' ? { ...i, elemType: type } : i)) },
      };
    }
    case 2: {
      // Rename every initializer: the structural search must not care.
      const names = new Map([...graph.initializers.keys()].map((name, i) => [name, `onnx::W_${i}`]));
      const rename = (n: string) => names.get(n) ?? n;
      return {
        ...model,
        graph: {
          ...graph,
          initializers: new Map([...graph.initializers].map(([n, t]) => [rename(n), { ...t, name: rename(n) }])),
          nodes: nodes.map((node) => ({ ...node, inputs: node.inputs.map(rename) })),
        },
      };
    }
    case 3: {
      const at = random.int(nodes.length);
      const node = nodes[at]!;
      nodes[at] = { ...node, opType: random.pick(['Gather', 'Range', 'CumSum', 'Identity', 'Celu', 'Add', '']) };
      return { ...model, graph: { ...graph, nodes } };
    }
    default: {
      const at = random.int(nodes.length);
      const node = nodes[at]!;
      const inputs = [...node.inputs];
      if (inputs.length > 0)
        inputs[random.int(inputs.length)] = random.pick([
          'input_ids',
          '',
          'missing',
          nodes[random.int(nodes.length)]!.outputs[0] ?? '',
        ]);
      nodes[at] = { ...node, inputs };
      return { ...model, graph: { ...graph, nodes } };
    }
  }
}

export function onnxCase(random: Random, setup: OnnxSetup): { bytes: Uint8Array; gradient: boolean } {
  const bytes = random.chance(0.5) ? damageBytes(random, setup.bytes) : serializeModel(editGraph(random, setup.model));
  return { bytes, gradient: random.chance(0.15) };
}

export function runOnnxCase(bytes: Uint8Array, gradient: boolean): Outcome {
  let model: Model;
  try {
    model = parseModel(bytes);
  } catch (error) {
    if (error instanceof OnnxFormatError) return 'refused';
    throw error;
  }
  try {
    checkIdsInput('model.onnx', model);
  } catch (error) {
    if (error instanceof InputError && error.message.startsWith('model.onnx: ')) return 'refused';
    throw error;
  }
  const { token, position } = findEmbeddings(model.graph);
  for (const found of [token, position]) {
    if (found && !(Number.isSafeInteger(found.rows) && found.rows >= 0))
      violation(`embedding "${found.weight}" has ${found.rows} rows`);
  }
  if (!gradient) return 'accepted';
  try {
    buildGradientGraph(model, { loss: { kind: 'token-cross-entropy' } });
  } catch (error) {
    // The CLI wraps these as `<model>: <message>` (prepareGradientGraph); a JS engine error there is a bug.
    if (isEngineError(error)) throw error;
    return 'refused';
  }
  return 'accepted';
}
