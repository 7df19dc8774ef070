/**
 * IEEE 754 binary16 (float16) and bfloat16 decoding, the one copy: the ONNX loader (half-precision models cast to
 * float32 on load) and the safetensors reader (F16 and BF16 tensors as float64) both use it. A leaf: it imports
 * nothing, and every layer may import it.
 * Layout: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. Every binary16 value is exact in float32 and
 * float64, so the result is the value itself, not a rounding of it.
 */

/** The value of IEEE binary16 bits (the low 16 bits of `bits`). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  // Exponent 0: zero or subnormal, fraction · 2^-24 (= 0.fraction · 2^-14).
  if (exponent === 0) return sign * fraction * 2 ** -24;
  // Exponent all ones: infinity, or NaN when the fraction is non-zero.
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * The value of bfloat16 bits (the low 16 bits of `bits`): bfloat16 is the upper half of a float32 (1 sign, 8 exponent,
 * 7 fraction bits), so its value is the float32 whose low 16 bits are zero — exact in float32 and float64.
 */
export function bfloat16ToFloat(bits: number): number {
  BF16_SCRATCH_BITS[0] = (bits & 0xffff) << 16;
  return BF16_SCRATCH[0]!;
}

const BF16_SCRATCH = new Float32Array(1);
const BF16_SCRATCH_BITS = new Uint32Array(BF16_SCRATCH.buffer);
