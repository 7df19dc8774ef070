// One round of the parallel two-sided Jacobi eigensolver on a symmetric n×n matrix (n even; an odd d is padded with a
// zero dummy index that no rotation ever touches). Round-robin (circle-method) ordering: in round r the n/2 pairs
// are disjoint, so their rotations commute and are applied at once: A ← JᵀAJ, V ← VJ. Over rounds 0 … n−2 every
// pair (p, q) meets exactly once, which makes a sweep.
//
// Two dispatches per round: `rotation_parameters` (one thread per pair) reads the pair's 2×2 block and stores
// (c, s, t); `apply_rotations` (one thread per pair of pairs) then updates the 2×2 blocks of A and V. Each A block
// (i, j) with i < j is computed once and written with its mirror, so A stays exactly symmetric.

struct Params {
  n: u32,
  round: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
// Per pair: (c, s, t, 0) with J = [[c, s], [−s, c]] acting on (p, q) and t = s / c.
@group(0) @binding(2) var<storage, read_write> rotations: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

// Pair k of the round: index n−1 stays fixed and meets r; the others pair up symmetrically around r (mod n−1).
fn pair_of(k: u32) -> vec2<u32> {
  let m = params.n - 1u;
  let r = params.round;
  var first: u32;
  var second: u32;
  if (k == 0u) {
    first = m;
    second = r;
  } else {
    first = (r + k) % m;
    second = (r + m - k) % m;
  }
  return vec2<u32>(min(first, second), max(first, second));
}

@compute @workgroup_size(64)
fn rotation_parameters(@builtin(global_invocation_id) id: vec3<u32>) {
  let k = id.x;
  if (k >= params.n / 2u) { return; }
  let pq = pair_of(k);
  let n = params.n;
  let apq = a[pq.x * n + pq.y];
  if (apq == 0.0) {
    rotations[k] = vec4<f32>(1.0, 0.0, 0.0, 0.0);
    return;
  }
  let tau = (a[pq.y * n + pq.y] - a[pq.x * n + pq.x]) / (2.0 * apq);
  // The smaller root of t² + 2τt − 1 = 0 (|θ| ≤ π/4). For |τ| past 1e18, τ² would overflow; t ≈ 1/(2τ) there.
  var t: f32;
  if (abs(tau) > 1e18) {
    t = 0.5 / tau;
  } else {
    t = select(-1.0, 1.0, tau >= 0.0) / (abs(tau) + sqrt(1.0 + tau * tau));
  }
  var c = 1.0 / sqrt(1.0 + t * t);
  var s = t * c;
  // One Newton step towards c² + s² = 1: a rounding bias in sqrt would otherwise scale every column of V by the same
  // factor at each of its ~n·sweeps rotations, and that drift, not direction error, dominated ‖VᵀV − I‖.
  let correction = 1.5 - 0.5 * (c * c + s * s);
  c = c * correction;
  s = s * correction;
  rotations[k] = vec4<f32>(c, s, t, 0.0);
}

@compute @workgroup_size(16, 16)
fn apply_rotations(@builtin(global_invocation_id) id: vec3<u32>) {
  let half = params.n / 2u;
  let i = id.y; // left rotation (rows)
  let j = id.x; // right rotation (columns)
  if (i >= half || j >= half) { return; }
  let n = params.n;
  let rows = pair_of(i);
  let cols = pair_of(j);
  let right = rotations[j];

  // V ← V J: rows p_i, q_i of V, columns p_j, q_j.
  for (var e = 0u; e < 2u; e = e + 1u) {
    let row = select(rows.y, rows.x, e == 0u) * n;
    let vp = v[row + cols.x];
    let vq = v[row + cols.y];
    v[row + cols.x] = right.x * vp - right.y * vq;
    v[row + cols.y] = right.y * vp + right.x * vq;
  }

  if (i > j) { return; }
  let pp = rows.x * n + rows.x;
  let qq = rows.y * n + rows.y;
  let pq = rows.x * n + rows.y;
  let qp = rows.y * n + rows.x;
  if (i == j) {
    // The pair's own block becomes diagonal; the closed form keeps the zero exact and the diagonal accurate.
    let apq = a[pq];
    a[pp] = a[pp] - right.z * apq;
    a[qq] = a[qq] + right.z * apq;
    a[pq] = 0.0;
    a[qp] = 0.0;
    return;
  }
  let left = rotations[i];
  // Block rows (p_i, q_i) × columns (p_j, q_j): X ← J_iᵀ X J_j.
  let x00 = a[rows.x * n + cols.x];
  let x01 = a[rows.x * n + cols.y];
  let x10 = a[rows.y * n + cols.x];
  let x11 = a[rows.y * n + cols.y];
  let y00 = left.x * x00 - left.y * x10;
  let y01 = left.x * x01 - left.y * x11;
  let y10 = left.y * x00 + left.x * x10;
  let y11 = left.y * x01 + left.x * x11;
  let z00 = right.x * y00 - right.y * y01;
  let z01 = right.y * y00 + right.x * y01;
  let z10 = right.x * y10 - right.y * y11;
  let z11 = right.y * y10 + right.x * y11;
  a[rows.x * n + cols.x] = z00;
  a[rows.x * n + cols.y] = z01;
  a[rows.y * n + cols.x] = z10;
  a[rows.y * n + cols.y] = z11;
  a[cols.x * n + rows.x] = z00;
  a[cols.y * n + rows.x] = z01;
  a[cols.x * n + rows.y] = z10;
  a[cols.y * n + rows.y] = z11;
}
