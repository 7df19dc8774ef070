// Masked covariance accumulation acc[d', d'] += Σ_rows m x̃ x̃ᵀ, x̃ = [x, 1] when the ones column is on.
// Only tiles on or above the diagonal are launched (one workgroup per upper tile of edge 4·SIDE); each thread owns a
// 4×4 register block and streams the rows itself: per row it loads 4 + 4 values for 16 multiply-adds.
// No workgroup memory: Dawn zero-initialises it with code whose compile time grows with its size (seconds per KB
// on SwiftShader), and on CPU-backed adapters the cache already plays its role.
// Sums are blocked: BLOCK_ROWS rows go into a block accumulator that then joins the running total, so float32 error
// grows with (block + rows / block) rather than rows.

override SIDE: u32 = 8u;          // threads per tile edge
override BLOCK_ROWS: u32 = 64u;   // rows per block sum

struct Params {
  rows: u32,     // rows in this window
  d: u32,        // stored columns of x
  d_prime: u32,  // d + 1 with the ones column, else d
  x_base: u32,   // element offset of row 0 inside the x binding
  mask_base: u32,
  has_mask: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> acc: array<f32>;

// Upper tile (ti ≤ tj) number k in column order: tj = the largest t with t(t+1)/2 ≤ k.
fn upper_tile(k: u32) -> vec2<u32> {
  var tj = u32((sqrt(8.0 * f32(k) + 1.0) - 1.0) * 0.5);
  while (tj * (tj + 1u) / 2u > k) { tj = tj - 1u; }
  while ((tj + 1u) * (tj + 2u) / 2u <= k) { tj = tj + 1u; }
  return vec2<u32>(k - tj * (tj + 1u) / 2u, tj);
}

// Loads of 4 consecutive columns starting at `first`, branch-free: columns past d read a clamped address and are
// zeroed by `keep`; the ones column is added by `ones`.
struct Quad {
  columns: vec4<u32>,
  keep: vec4<f32>,
  ones: vec4<f32>,
}

fn quad_of(first: u32) -> Quad {
  let columns = vec4<u32>(first, first + 1u, first + 2u, first + 3u);
  let last = max(params.d, 1u) - 1u;
  let keep = select(vec4<f32>(0.0), vec4<f32>(1.0), columns < vec4<u32>(params.d));
  let is_ones_column = (columns == vec4<u32>(params.d)) & vec4<bool>(params.d_prime > params.d);
  let ones = select(vec4<f32>(0.0), vec4<f32>(1.0), is_ones_column);
  return Quad(min(columns, vec4<u32>(last)), keep, ones);
}

fn load(q: Quad, row_start: u32) -> vec4<f32> {
  let v = vec4<f32>(
    x[row_start + q.columns.x], x[row_start + q.columns.y], x[row_start + q.columns.z], x[row_start + q.columns.w]
  );
  return fma(v, q.keep, q.ones);
}

@compute @workgroup_size(SIDE, SIDE)
fn accumulate(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let tile = upper_tile(group.x);
  let i = tile.x * 4u * SIDE + local.y * 4u;
  let j = tile.y * 4u * SIDE + local.x * 4u;
  let n = params.d_prime;
  if (i >= n || j >= n || i > j + 3u) { return; } // outside the matrix, or a block wholly below the diagonal
  let qi = quad_of(i);
  let qj = quad_of(j);
  var total0 = vec4<f32>(0.0); var total1 = vec4<f32>(0.0); var total2 = vec4<f32>(0.0); var total3 = vec4<f32>(0.0);
  var r = 0u;
  while (r < params.rows) {
    let block_end = min(r + BLOCK_ROWS, params.rows);
    var s0 = vec4<f32>(0.0); var s1 = vec4<f32>(0.0); var s2 = vec4<f32>(0.0); var s3 = vec4<f32>(0.0);
    for (; r < block_end; r = r + 1u) {
      let row_start = params.x_base + r * params.d;
      var a = load(qi, row_start);
      if (params.has_mask != 0u) { a = a * mask[params.mask_base + r]; }
      let b = load(qj, row_start);
      s0 = fma(vec4<f32>(a.x), b, s0);
      s1 = fma(vec4<f32>(a.y), b, s1);
      s2 = fma(vec4<f32>(a.z), b, s2);
      s3 = fma(vec4<f32>(a.w), b, s3);
    }
    total0 = total0 + s0; total1 = total1 + s1; total2 = total2 + s2; total3 = total3 + s3;
  }
  add_upper(i, j, total0);
  add_upper(i + 1u, j, total1);
  add_upper(i + 2u, j, total2);
  add_upper(i + 3u, j, total3);
}

fn add_upper(i: u32, j: u32, sum: vec4<f32>) {
  let n = params.d_prime;
  for (var c = 0u; c < 4u; c = c + 1u) {
    if (i < n && j + c < n && i <= j + c) { acc[i * n + j + c] = acc[i * n + j + c] + sum[c]; }
  }
}
