// Elementwise EK-FAC steps on [N, dOut, dIn'] stacks of rotated gradients R (one thread per element of Λ).
//   square_accumulate: Λ += Σ_n R[n]∘²   (eigenvalue correction)
//   divide_damped:     R[n] ⊘= (Λ + δ)   (preconditioning; δ read from a 1-element buffer written on the GPU)

override WORKGROUP: u32 = 256u;

struct Params {
  size: u32,     // elements of Λ (dOut · dIn')
  count: u32,    // matrices in this window
  r_base: u32,
  columns: u32,  // the grid is (columns × ⌈size / (columns·WORKGROUP)⌉) workgroups
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> rotated: array<f32>;
@group(0) @binding(2) var<storage, read_write> lambda: array<f32>;
@group(0) @binding(3) var<storage, read> damping: array<f32>; // divide_damped only

fn element_index(id: vec3<u32>) -> u32 {
  return id.y * params.columns * WORKGROUP + id.x;
}

@compute @workgroup_size(WORKGROUP)
fn square_accumulate(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = element_index(id);
  if (i >= params.size) { return; }
  var sum = 0.0;
  for (var n = 0u; n < params.count; n = n + 1u) {
    let r = rotated[params.r_base + n * params.size + i];
    sum = fma(r, r, sum);
  }
  lambda[i] = lambda[i] + sum;
}

@compute @workgroup_size(WORKGROUP)
fn divide_damped(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = element_index(id);
  if (i >= params.size) { return; }
  let denominator = lambda[i] + damping[0];
  for (var n = 0u; n < params.count; n = n + 1u) {
    let index = params.r_base + n * params.size + i;
    rotated[index] = rotated[index] / denominator;
  }
}
