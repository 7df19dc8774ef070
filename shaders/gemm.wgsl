// Batched C[b] (M×N) = op(A[b]) op(B[b]), or C[b] += …, with transposes handled in the loads, batch strides of 0 for
// operands shared by every batch entry (the eigenbases), and the token-matrix extras fused into the loads: a 0/1 mask
// along K (applied to A) and an appended ones column (on A's K axis or on B's N axis).
// Each thread owns a 4×4 register block of C (workgroup tile (4·SIDE)²) and streams K itself; no workgroup memory,
// for the reason given in covariance.wgsl.

override SIDE: u32 = 8u;
override TRANSPOSE_A: bool = false; // A stored [K, M] (row-major) instead of [M, K]
override TRANSPOSE_B: bool = false; // B stored [N, K] instead of [K, N]

const FLAG_ACCUMULATE = 1u;
const FLAG_MASK_K = 2u;
const FLAG_ONES_A_K = 4u; // A's last logical column (k = K - 1) is all ones, not stored
const FLAG_ONES_B_N = 8u; // B's last logical column (n = N - 1) is all ones, not stored

struct Params {
  m: u32, n: u32, k: u32,
  lda: u32, ldb: u32, ldc: u32,
  stride_a: u32, stride_b: u32, stride_c: u32,
  base_a: u32, base_b: u32, base_c: u32,
  mask_base: u32, mask_stride: u32,
  flags: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

fn has(flag: u32) -> bool { return (params.flags & flag) != 0u; }

// Element offsets of 4 consecutive rows (of A) or columns (of B) along the non-K axis, clamped into the stored
// extent, with `keep` zeroing the lanes past it and `ones` supplying an appended ones column.
struct Lanes {
  offsets: vec4<u32>,
  step: u32,        // offset increment per k
  keep: vec4<f32>,
  ones: vec4<f32>,
}

fn lanes(first: u32, extent: u32, stored: u32, ld: u32, transposed: bool) -> Lanes {
  let index = vec4<u32>(first, first + 1u, first + 2u, first + 3u);
  let clamped = min(index, vec4<u32>(max(stored, 1u) - 1u));
  let keep = select(vec4<f32>(0.0), vec4<f32>(1.0), index < vec4<u32>(stored));
  let ones = select(vec4<f32>(0.0), vec4<f32>(1.0), (index == vec4<u32>(stored)) & vec4<bool>(stored < extent));
  if (transposed) { return Lanes(clamped, ld, keep, ones); }
  return Lanes(clamped * ld, 1u, keep, ones);
}

fn gather(values_base: u32, l: Lanes, kk: u32, from_a: bool) -> vec4<f32> {
  let o = values_base + kk * l.step;
  var v: vec4<f32>;
  if (from_a) {
    v = vec4<f32>(a[o + l.offsets.x], a[o + l.offsets.y], a[o + l.offsets.z], a[o + l.offsets.w]);
  } else {
    v = vec4<f32>(b[o + l.offsets.x], b[o + l.offsets.y], b[o + l.offsets.z], b[o + l.offsets.w]);
  }
  return fma(v, l.keep, l.ones);
}

@compute @workgroup_size(SIDE, SIDE)
fn gemm(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let batch = group.z;
  let row = group.y * 4u * SIDE + local.y * 4u;
  let col = group.x * 4u * SIDE + local.x * 4u;
  if (row >= params.m || col >= params.n) { return; }
  // A's rows run along M; B's columns along N. The ones columns sit on A's K axis or B's N axis.
  let ones_a = has(FLAG_ONES_A_K);
  let k_stored_a = select(params.k, params.k - 1u, ones_a);
  let n_stored = select(params.n, params.n - 1u, has(FLAG_ONES_B_N));
  let la = lanes(row, params.m, params.m, params.lda, TRANSPOSE_A);
  let lb = lanes(col, params.n, n_stored, params.ldb, !TRANSPOSE_B);
  let base_a = params.base_a + batch * params.stride_a;
  let base_b = params.base_b + batch * params.stride_b;
  let mask_row = params.mask_base + batch * params.mask_stride;
  var sum0 = vec4<f32>(0.0); var sum1 = vec4<f32>(0.0); var sum2 = vec4<f32>(0.0); var sum3 = vec4<f32>(0.0);
  for (var kk = 0u; kk < params.k; kk = kk + 1u) {
    var av: vec4<f32>;
    if (kk < k_stored_a) { av = gather(base_a, la, kk, true); } else { av = la.keep; }
    if (has(FLAG_MASK_K)) { av = av * mask[mask_row + kk]; }
    let bv = gather(base_b, lb, kk, false);
    sum0 = fma(vec4<f32>(av.x), bv, sum0);
    sum1 = fma(vec4<f32>(av.y), bv, sum1);
    sum2 = fma(vec4<f32>(av.z), bv, sum2);
    sum3 = fma(vec4<f32>(av.w), bv, sum3);
  }
  store_row(batch, row, col, sum0);
  store_row(batch, row + 1u, col, sum1);
  store_row(batch, row + 2u, col, sum2);
  store_row(batch, row + 3u, col, sum3);
}

fn store_row(batch: u32, row: u32, col: u32, sum: vec4<f32>) {
  if (row >= params.m) { return; }
  let base = params.base_c + batch * params.stride_c + row * params.ldc;
  for (var q = 0u; q < 4u; q = q + 1u) {
    if (col + q < params.n) {
      let index = base + col + q;
      if (has(FLAG_ACCUMULATE)) { c[index] = c[index] + sum[q]; } else { c[index] = sum[q]; }
    }
  }
}
