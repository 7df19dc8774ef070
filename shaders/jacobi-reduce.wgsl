// The Jacobi eigensolver's setup, convergence statistics and output (the rotations are in jacobi.wgsl).
//   symmetrize_pad:   working[n, n] = (A + Aᵀ)/2 of the d×d source_matrix, zero in the padding row/column (n = d or d +
// 1);
//   row_statistics:   per row of working, (Σ off-diagonal², Σ all², max |a|);
//   total_statistics: sums the rows into stats[offset .. offset + 4];
//   scale:            working = working / max |a| (stats[2]), so float32 neither overflows nor underflows;
//   normalized_vectors, rayleigh_quotients, sorted_output: the d real columns of V normalised, their eigenvalues as
//                     Rayleigh quotients of the original matrix, both ranked ascending.

struct Params {
  n: u32,
  d: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// ---- symmetrize_pad ------------------------------------------------------------------------------------------
@group(0) @binding(1) var<storage, read> source_matrix: array<f32>;
@group(0) @binding(2) var<storage, read_write> padded: array<f32>;

@compute @workgroup_size(16, 16)
fn symmetrize_pad(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.y;
  let j = id.x;
  let n = params.n;
  let d = params.d;
  if (i >= n || j >= n) { return; }
  var value = 0.0;
  if (i < d && j < d) { value = 0.5 * (source_matrix[i * d + j] + source_matrix[j * d + i]); }
  padded[i * n + j] = value;
}

// ---- row_statistics ------------------------------------------------------------------------------------------
@group(0) @binding(1) var<storage, read> stats_matrix: array<f32>;
@group(0) @binding(2) var<storage, read_write> row_stats: array<vec4<f32>>;

const ROW_THREADS = 64u;
var<workgroup> partial: array<vec4<f32>, ROW_THREADS>;

@compute @workgroup_size(ROW_THREADS)
fn row_statistics(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) local: u32) {
  let row = group.x;
  let n = params.n;
  var sums = vec4<f32>(0.0);
  for (var col = local; col < n; col = col + ROW_THREADS) {
    let value = stats_matrix[row * n + col];
    let square = value * value;
    if (col != row) { sums.x = sums.x + square; }
    sums.y = sums.y + square;
    sums.z = max(sums.z, abs(value));
    // max() may drop a NaN and fast math may fold comparisons with it: test the exponent bits for NaN and ±Inf.
    if ((bitcast<u32>(value) & 0x7f800000u) == 0x7f800000u) { sums.w = sums.w + 1.0; }
  }
  partial[local] = sums;
  workgroupBarrier();
  for (var stride = ROW_THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (local < stride) { partial[local] = combine(partial[local], partial[local + stride]); }
    workgroupBarrier();
  }
  if (local == 0u) { row_stats[row] = partial[0]; }
}

fn combine(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(x.x + y.x, x.y + y.y, max(x.z, y.z), x.w + y.w);
}

// ---- total_statistics ----------------------------------------------------------------------------------------
@group(0) @binding(1) var<storage, read> rows_in: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;

const TOTAL_THREADS = 256u;
var<workgroup> total_partial: array<vec4<f32>, TOTAL_THREADS>;

@compute @workgroup_size(TOTAL_THREADS)
fn total_statistics(@builtin(local_invocation_index) local: u32) {
  var sums = vec4<f32>(0.0);
  for (var row = local; row < params.n; row = row + TOTAL_THREADS) { sums = combine(sums, rows_in[row]); }
  total_partial[local] = sums;
  workgroupBarrier();
  for (var stride = TOTAL_THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (local < stride) { total_partial[local] = combine(total_partial[local], total_partial[local + stride]); }
    workgroupBarrier();
  }
  if (local == 0u) {
    let total = total_partial[0];
    stats[params.offset] = total.x;
    stats[params.offset + 1u] = total.y;
    stats[params.offset + 2u] = total.z;
    stats[params.offset + 3u] = total.w;
  }
}

// ---- scale ---------------------------------------------------------------------------------------------------
@group(0) @binding(1) var<storage, read_write> scaled: array<f32>;
@group(0) @binding(2) var<storage, read> scale_stats: array<f32>;

fn scale_factor() -> f32 {
  let largest = scale_stats[2];
  return select(1.0, largest, largest > 0.0);
}

@compute @workgroup_size(16, 16)
fn scale(@builtin(global_invocation_id) id: vec3<u32>) {
  let n = params.n;
  if (id.x >= n || id.y >= n) { return; }
  scaled[id.y * n + id.x] = scaled[id.y * n + id.x] / scale_factor();
}

// ---- normalized_vectors ---------------------------------------------------------------------------------------
@group(0) @binding(1) var<storage, read> rotated_basis: array<f32>;
@group(0) @binding(2) var<storage, read_write> unit_columns: array<f32>;

// Column i < d of the n×n accumulated V, cut to d rows and normalised, into a d×d matrix. Rounding makes each column's
// norm random-walk away from 1 over its ~n·sweeps rotations; that drift, not direction error, dominated ‖VᵀV − I‖.
@compute @workgroup_size(64)
fn normalized_vectors(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  let n = params.n;
  let d = params.d;
  if (i >= d) { return; }
  var norm_squared = 0.0;
  for (var row = 0u; row < d; row = row + 1u) {
    norm_squared = norm_squared + rotated_basis[row * n + i] * rotated_basis[row * n + i];
  }
  let inverse_norm = 1.0 / sqrt(norm_squared);
  for (var row = 0u; row < d; row = row + 1u) { unit_columns[row * d + i] = rotated_basis[row * n + i] * inverse_norm; }
}

// ---- rayleigh_quotients --------------------------------------------------------------------------------------
@group(0) @binding(1) var<storage, read> original: array<f32>;
@group(0) @binding(2) var<storage, read> eigenvectors: array<f32>;
@group(0) @binding(3) var<storage, read> quotient_stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> quotients: array<f32>;

// λ_i = v_iᵀ A v_i against the original input, not the diagonal of the rotated matrix: the diagonal carries the
// rounding of every sweep, the quotient only that of one product (and its error is second order in v_i's).
@compute @workgroup_size(64)
fn rayleigh_quotients(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  let d = params.d;
  if (i >= d) { return; }
  let largest = quotient_stats[2];
  let inverse_scale = select(1.0, 1.0 / largest, largest > 0.0);
  var quotient = 0.0;
  for (var row = 0u; row < d; row = row + 1u) {
    var product = 0.0;
    for (var k = 0u; k < d; k = k + 1u) { product = product + original[row * d + k] * eigenvectors[k * d + i]; }
    quotient = quotient + eigenvectors[row * d + i] * product * inverse_scale;
  }
  quotients[i] = quotient * select(1.0, largest, largest > 0.0);
}

// ---- sorted_output -------------------------------------------------------------------------------------------
@group(0) @binding(1) var<storage, read> unsorted_values: array<f32>;
@group(0) @binding(2) var<storage, read> unsorted_vectors: array<f32>;
@group(0) @binding(3) var<storage, read_write> values_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> vectors_out: array<f32>;

// One thread per index i < d: its rank among the eigenvalues (ties broken by index) is where it and its column go.
@compute @workgroup_size(64)
fn sorted_output(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  let d = params.d;
  if (i >= d) { return; }
  let value = unsorted_values[i];
  var rank = 0u;
  for (var j = 0u; j < d; j = j + 1u) {
    let other = unsorted_values[j];
    if (other < value || (other == value && j < i)) { rank = rank + 1u; }
  }
  values_out[rank] = value;
  for (var row = 0u; row < d; row = row + 1u) { vectors_out[row * d + rank] = unsorted_vectors[row * d + i]; }
}
