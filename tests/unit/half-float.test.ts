import { describe, expect, it } from 'vitest';
import { halfToFloat } from '../../src/core/half-float';

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
