/**
 * The GPU test rig: real WGSL on Dawn in Node, pointed at SwiftShader where there is no GPU.
 * A test that cannot get an adapter fails loudly here; nothing is skipped.
 */
import { acquireGpu, type AcquiredGpu } from '../../src/linalg/webgpu/adapter';
import { nodeGpu } from '../../src/linalg/webgpu/node-gpu';

let shared: Promise<AcquiredGpu> | undefined;

/** One device per test process, shared by the files of that process. */
export function testGpu(): Promise<AcquiredGpu> {
  shared ??= acquireGpu(nodeGpu()).catch((error: unknown) => {
    throw new Error(
      `GPU tests need a WebGPU adapter: ${(error as Error).message}. ` +
        "Install Debian's chromium (it ships the SwiftShader Vulkan driver) and libvulkan1; see README.",
    );
  });
  return shared;
}
