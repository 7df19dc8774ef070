/** What the memory planner (memory-plan.ts) is told about the device, the model's gradient graph and the data. */

export interface DeviceProfile {
  readonly kind: 'cpu' | 'webgpu';
  readonly bytesPerElement: 4 | 8;
  /** The largest single tensor a kernel binds (WebGPU maxStorageBufferBindingSize; the budget on the CPU). */
  readonly maxBindingBytes: number;
  /** All the backend's tensors together. */
  readonly memoryBudgetBytes: number;
  /** Multiply-adds per second ÷ 2, i.e. FLOP/s, of the backend's products. */
  readonly flopsPerSecond: number;
  /** Seconds per d³ of one symmetric eigendecomposition. */
  readonly eighSecondsPerCube: number;
  /** Where the figures come from, shown with the estimate. */
  readonly source: string;
}

export interface GraphProfile {
  /** Vocabulary (logits per token), 0 when unknown. */
  readonly vocab: number;
  /** Bytes of the model's weights. */
  readonly weightBytes: number;
  /** Σ (dIn + dOut) over every linear of the model (tracked or not): the activations kept for backward. */
  readonly linearWidth: number;
  /** onnxruntime's heap for the gradient graph (wasm32: 4 GiB) and its FLOP/s. */
  readonly heapBytes: number;
  readonly flopsPerSecond: number;
}

export interface DataProfile {
  readonly train: number;
  readonly queries: number;
  /** Longest sequence (the padded width of a batch). */
  readonly maxTokens: number;
  readonly trainTokens: number;
  readonly queryTokens: number;
  /** Query groups of the group per-token scores (one per benchmark, group-tokens.ts); absent: 1. */
  readonly queryGroups?: number;
  /** The k of the top-k pair token scores computed after the run (pair-tokens.ts); absent or 0: none. */
  readonly pairTokensTopK?: number;
}
