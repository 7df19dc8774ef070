// Token scores from two row stacks: out[q, row] = m[row] · Σ_i X[q, row, i] · Y[q, row, i]
//   full rank: X = g P_q (from gemm.wgsl), Y = ã (shared by all queries: y_query_stride 0; the ones column appended);
//   low rank:  X = g U_q,                  Y = ã V_q.
// sequence_sums then folds the tokens of each sequence: τ[q, n] = Σ_t out[q, n, t].

override WORKGROUP: u32 = 64u;

struct Params {
  rows: u32,           // token rows in this window
  width: u32,          // logical row length of X and Y (Y's last element is a 1 when y_ones)
  x_base: u32, x_query_stride: u32,
  y_base: u32, y_query_stride: u32, y_row_stride: u32, y_ones: u32,
  mask_base: u32, has_mask: u32,
}

// sequence_sums reads only these; an entry point binds one of the two structs at @binding(0).
struct SumParams {
  sequences: u32,      // sequences in this window
  tokens: u32,         // tokens per sequence
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(0) var<uniform> sum_params: SumParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn token_scores(@builtin(global_invocation_id) id: vec3<u32>) {
  let row = id.x;
  let q = id.y;
  if (row >= params.rows) { return; }
  var weight = 1.0;
  if (params.has_mask != 0u) { weight = mask[params.mask_base + row]; }
  let x_row = params.x_base + q * params.x_query_stride + row * params.width;
  let y_row = params.y_base + q * params.y_query_stride + row * params.y_row_stride;
  var stored = params.width;
  var sum = 0.0;
  if (params.y_ones != 0u) {
    stored = params.width - 1u;
    sum = x[x_row + stored];
  }
  for (var i = 0u; i < stored; i = i + 1u) { sum = fma(x[x_row + i], y[y_row + i], sum); }
  // Padding scores exactly 0 (not -0, not NaN from whatever the padding rows hold).
  out[q * params.rows + row] = select(weight * sum, 0.0, weight == 0.0);
}

// Here x holds token scores [Q, sequences · tokens] and out receives [Q, sequences].
@compute @workgroup_size(WORKGROUP)
fn sequence_sums(@builtin(global_invocation_id) id: vec3<u32>) {
  let sequence = id.x;
  let q = id.y;
  if (sequence >= sum_params.sequences) { return; }
  let first = (q * sum_params.sequences + sequence) * sum_params.tokens;
  var sum = 0.0;
  for (var t = 0u; t < sum_params.tokens; t = t + 1u) { sum = sum + x[first + t]; }
  out[q * sum_params.sequences + sequence] = sum;
}
