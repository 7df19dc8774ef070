import { describe, expect, it } from 'vitest';
import { bfloat16ToFloat, halfToFloat } from '../../src/core/half-float';

describe('halfToFloat', () => {
  it('decodes normal, subnormal, signed-zero, infinite and NaN binary16 patterns', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBe(0.333251953125);
    expect(halfToFloat(0x7bff)).toBe(65504); // the largest finite value
    expect(halfToFloat(0x0400)).toBe(2 ** -14); // the smallest normal
    expect(halfToFloat(0x0001)).toBe(2 ** -24); // the smallest subnormal
    expect(halfToFloat(0x03ff)).toBe(1023 * 2 ** -24); // the largest subnormal
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });
});

describe('bfloat16ToFloat', () => {
  // Reference: sign · (1 + fraction/128) · 2^(exponent − 127), written out per pattern (1 sign, 8 exponent, 7 bits).
  it('decodes bfloat16 patterns as the float32 whose low half is zero', () => {
    expect(bfloat16ToFloat(0x3f80)).toBe(1);
    expect(bfloat16ToFloat(0xc000)).toBe(-2);
    expect(bfloat16ToFloat(0x3eab)).toBe((1 + 43 / 128) * 2 ** -2);
    expect(bfloat16ToFloat(0x7f7f)).toBe((1 + 127 / 128) * 2 ** 127); // the largest finite value
    expect(bfloat16ToFloat(0x0001)).toBe(2 ** -133); // the smallest subnormal
    expect(Object.is(bfloat16ToFloat(0x8000), -0)).toBe(true);
    expect(bfloat16ToFloat(0x7f80)).toBe(Infinity);
    expect(bfloat16ToFloat(0xff80)).toBe(-Infinity);
    expect(bfloat16ToFloat(0x7fc0)).toBeNaN();
  });

  it('reads only the low 16 bits', () => {
    expect(bfloat16ToFloat(0x1_3f80)).toBe(1);
  });
});
