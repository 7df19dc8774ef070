// Full symmetric covariance from the accumulated upper triangle: out[i, j] = acc[min, max] / count.

override SIDE: u32 = 16u;

struct Params {
  d: u32,
  inverse_count: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> acc: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(SIDE, SIDE)
fn finalize(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.y;
  let j = id.x;
  let n = params.d;
  if (i >= n || j >= n) { return; }
  out[i * n + j] = acc[min(i, j) * n + max(i, j)] * params.inverse_count;
}
