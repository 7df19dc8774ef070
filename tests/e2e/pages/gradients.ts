/**
 * Test page: a tiny token LM's gradient graph runs on onnxruntime-web's WebGPU EP on the workbench's own device, with
 * each
 * tracked layer's a and g kept as GPUBuffers; those buffers go straight into the WebGPU backend's covariance kernel
 * (no read-back). The same graph on the wasm EP, fed to the CPU float64 backend, is the reference. The page puts
 * its findings on window.gradientsResult for tests/e2e/gradients.test.ts.
 */
import type * as Ort from 'onnxruntime-web';
import { buildKronfluenceTokenLm } from '../../../src/models/kronfluence';
import { seededNormal, seededUniform } from '../../../src/core/random';
import { cpuBackend } from '../../../src/linalg/cpu/backend';
import type { Backend, Tensor } from '../../../src/linalg/backend';
import { acquireGpu } from '../../../src/linalg/webgpu/adapter';
import { webGpuBackend } from '../../../src/linalg/webgpu/backend';
import { buildGradientGraph, nextTokenTargets } from '../../../src/onnx/gradient-graph';
import { ModelSession } from '../../../src/onnx/runtime';

export interface LayerFinding {
  readonly node: string;
  readonly locations: [activation: string, gradient: string];
  /** max |GPU − CPU| / max |CPU| for A = E[ã ãᵀ] and S = E[g gᵀ]. */
  readonly activationCovarianceError: number;
  readonly gradientCovarianceError: number;
  readonly gradientScale: number;
}

export interface GradientsResult {
  readonly adapter: string;
  readonly layers: LayerFinding[];
  readonly error?: string;
}

declare global {
  interface Window {
    gradientsResult?: GradientsResult;
  }
}

const [V, D, F] = [12, 8, 16];
const rows = [
  { ids: [3, 7, 1, 9, 4, 2, 11, 5], promptLength: 3 },
  { ids: [5, 8, 10, 6, 1], promptLength: 2 },
];

/** The kronfluence token LM's architecture (embedding, up → tanh → down residual, unembed) with seeded weights. */
function tokenLmWeights() {
  const normal = seededNormal(seededUniform(21));
  const tensor = (dims: number[]) => ({
    dims,
    data: Float32Array.from({ length: dims.reduce((p, d) => p * d, 1) }, () => 0.5 * normal()),
  });
  return {
    'emb.weight': tensor([V, D]),
    'up.weight': tensor([F, D]),
    'up.bias': tensor([F]),
    'down.weight': tensor([D, F]),
    'down.bias': tensor([D]),
    'unembed.weight': tensor([V, D]),
  };
}
const [B, T] = [rows.length, 8];

async function covariance(
  backend: Backend,
  x: Tensor,
  mask: Tensor,
  appendOnes: boolean,
  tokens: number,
): Promise<Float64Array> {
  const d = x.shape[2] + (appendOnes ? 1 : 0);
  const acc = backend.zeros([d, d]);
  backend.accumulateCovariance(acc, x, mask, appendOnes);
  const full = backend.finalizeCovariance(acc, tokens);
  const values = await backend.read(full);
  backend.release(acc, full);
  return values;
}

function relativeError(actual: Float64Array, expected: Float64Array): number {
  let error = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    error = Math.max(error, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return error / scale;
}

async function main(): Promise<GradientsResult> {
  const acquired = await acquireGpu(navigator.gpu);
  const gpu = await webGpuBackend(acquired);
  const cpu = cpuBackend();
  const graph = buildGradientGraph(buildKronfluenceTokenLm(tokenLmWeights()), {
    loss: { kind: 'token-cross-entropy' },
  });
  const layerOutputs = graph.layers.flatMap((l) => [l.activationOutput, l.gradientOutput]);
  const onGpu = await ModelSession.create(graph.model, {
    backend: 'webgpu',
    device: acquired.device,
    gpuOutputs: layerOutputs,
  });
  const onCpu = await ModelSession.create(graph.model, { backend: 'wasm' });

  const inputIds = new BigInt64Array(B * T);
  const attentionMask = new BigInt64Array(B * T);
  rows.forEach((row, b) =>
    row.ids.forEach((id, t) => ((inputIds[b * T + t] = BigInt(id)), (attentionMask[b * T + t] = 1n))),
  );
  const targets = nextTokenTargets(
    inputIds,
    [B, T],
    rows.map((r) => r.promptLength),
    rows.map((r) => r.ids.length),
  );
  const feeds = {
    input_ids: { data: inputIds, dims: [B, T] },
    attention_mask: { data: attentionMask, dims: [B, T] },
    labels: { data: targets.labels, dims: [B, T] },
    loss_mask: { data: targets.lossMask, dims: [B, T] },
  };
  const gpuOutputs = await onGpu.run(feeds);
  const cpuOutputs = await onCpu.run(feeds);
  const tokenMask = Float32Array.from(attentionMask, Number);
  const tokens = rows.reduce((s, r) => s + r.ids.length, 0);
  const gpuMask = gpu.upload(tokenMask, [B, T]);
  const cpuMask = cpu.upload(tokenMask, [B, T]);

  const layers: LayerFinding[] = [];
  for (const layer of graph.layers) {
    const pair = (name: string) => {
      const tensor: Ort.Tensor = gpuOutputs[name];
      return {
        tensor,
        wrapped: gpu.wrapBuffer(tensor.gpuBuffer as GPUBuffer, tensor.dims),
        reference: cpu.upload(cpuOutputs[name].data as Float32Array, cpuOutputs[name].dims),
      };
    };
    const a = pair(layer.activationOutput);
    const g = pair(layer.gradientOutput);
    const gpuA = await covariance(gpu, a.wrapped, gpuMask, layer.hasBias, tokens);
    const gpuS = await covariance(gpu, g.wrapped, gpuMask, false, tokens);
    const cpuA = await covariance(cpu, a.reference, cpuMask, layer.hasBias, tokens);
    const cpuS = await covariance(cpu, g.reference, cpuMask, false, tokens);
    layers.push({
      node: layer.nodeName,
      locations: [a.tensor.location, g.tensor.location],
      activationCovarianceError: relativeError(gpuA, cpuA),
      gradientCovarianceError: relativeError(gpuS, cpuS),
      gradientScale: Math.max(...Array.from(cpuS, Math.abs)),
    });
    a.tensor.dispose();
    g.tensor.dispose();
  }
  return { adapter: acquired.report.name, layers };
}

main()
  .then((result) => (window.gradientsResult = result))
  .catch(
    (error: unknown) =>
      (window.gradientsResult = {
        adapter: '',
        layers: [],
        error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error),
      }),
  )
  .finally(() => (document.getElementById('status')!.textContent = 'done'));
