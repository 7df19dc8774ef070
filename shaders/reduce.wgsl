// Sum of a vector in two passes, for the damping heuristic δ = absolute + factor · mean(Λ) without a readback:
//   partial_sums:  workgroup g sums a strided share of the elements (tree in workgroup memory) into partials[g];
//   finish:        one workgroup sums the partials and writes out[0] = absolute + factor · sum / size.
// Each thread's strided share is itself a short sum, so the float32 error is that of a blocked (two-level) sum.

override WORKGROUP: u32 = 256u;

struct Params {
  size: u32,
  base: u32,
  groups: u32,
  factor: f32,
  absolute: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // finish only

var<workgroup> tree: array<f32, WORKGROUP>;

fn tree_sum(local: u32, value: f32) -> f32 {
  tree[local] = value;
  workgroupBarrier();
  for (var width = WORKGROUP / 2u; width > 0u; width = width / 2u) {
    if (local < width) { tree[local] = tree[local] + tree[local + width]; }
    workgroupBarrier();
  }
  return tree[0];
}

@compute @workgroup_size(WORKGROUP)
fn partial_sums(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) local: u32) {
  var sum = 0.0;
  for (var i = group.x * WORKGROUP + local; i < params.size; i = i + params.groups * WORKGROUP) {
    sum = sum + values[params.base + i];
  }
  let total = tree_sum(local, sum);
  if (local == 0u) { partials[group.x] = total; }
}

@compute @workgroup_size(WORKGROUP)
fn finish(@builtin(local_invocation_index) local: u32) {
  var sum = 0.0;
  for (var g = local; g < params.groups; g = g + WORKGROUP) { sum = sum + partials[g]; }
  let total = tree_sum(local, sum);
  if (local == 0u) { out[0] = params.absolute + params.factor * total / f32(params.size); }
}
