// Exact rational arithmetic for GSM8K's calculator annotations ("48/2=24", "(60+72+42)/3=58", "7.5*2=15"): every
// statement the after-answer re-check writes must be true, so it is decided in exact fractions, never in floats
// (0.1 + 0.2 = 0.3 holds here).

/** A fraction num/den in lowest terms, den > 0. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function rational(num: bigint, den = 1n): Rational {
  if (den === 0n) throw new Error('division by zero');
  if (den < 0n) [num, den] = [-num, -den];
  const g = gcd(num, den) || 1n;
  return { num: num / g, den: den / g };
}

export const add = (a: Rational, b: Rational): Rational => rational(a.num * b.den + b.num * a.den, a.den * b.den);
export const sub = (a: Rational, b: Rational): Rational => rational(a.num * b.den - b.num * a.den, a.den * b.den);
export const mul = (a: Rational, b: Rational): Rational => rational(a.num * b.num, a.den * b.den);
export const div = (a: Rational, b: Rational): Rational => rational(a.num * b.den, a.den * b.num);
export const equal = (a: Rational, b: Rational): boolean => a.num === b.num && a.den === b.den;

const NUMBER = /^(\d+(?:,\d{3})*)?(?:\.(\d+))?$/;

/** A decimal literal ("24", "7.5", ".25", "1,000") as an exact fraction; undefined if it is not one. */
export function parseDecimal(text: string): Rational | undefined {
  const m = NUMBER.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined)) return undefined;
  const whole = (m[1] ?? '0').replace(/,/g, '');
  const frac = m[2] ?? '';
  return rational(BigInt(whole + frac), 10n ** BigInt(frac.length));
}

/** The value as a terminating decimal ("24", "-0.75"), or undefined when it does not terminate (10/3). */
export function toDecimal(value: Rational): string | undefined {
  let den = value.den;
  let twos = 0;
  let fives = 0;
  while (den % 2n === 0n) [den, twos] = [den / 2n, twos + 1];
  while (den % 5n === 0n) [den, fives] = [den / 5n, fives + 1];
  if (den !== 1n) return undefined;
  const places = Math.max(twos, fives);
  const scaled = (value.num * 10n ** BigInt(places)) / value.den;
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(places + 1, '0');
  const whole = digits.slice(0, digits.length - places);
  const frac = places > 0 ? '.' + digits.slice(digits.length - places) : '';
  return (negative ? '-' : '') + whole + frac;
}

/**
 * Evaluates an arithmetic expression of decimal literals, + − * /, unary minus and parentheses, exactly. GSM8K writes
 * multiplication as "*" inside annotations (and "x" in prose); "x" is accepted too. Returns undefined for anything
 * else (an unknown symbol, unbalanced parentheses, division by zero), so a malformed annotation is skipped, not
 * guessed at.
 */
export function evaluateExact(expression: string): Rational | undefined {
  const tokens = expression.replace(/\s+/g, '').match(/\d[\d,]*(?:\.\d+)?|\.\d+|[-+*/x×()]|./g) ?? [];
  let at = 0;
  const peek = (): string | undefined => tokens[at];
  const fail = (): never => {
    throw new SyntaxError(expression);
  };
  const primary = (): Rational => {
    const t = tokens[at++];
    if (t === undefined) return fail();
    if (t === '-') return sub(rational(0n), primary());
    if (t === '(') {
      const v = sum();
      if (tokens[at++] !== ')') fail();
      return v;
    }
    return parseDecimal(t) ?? fail();
  };
  const product = (): Rational => {
    let v = primary();
    for (let op = peek(); op === '*' || op === 'x' || op === '×' || op === '/'; op = peek()) {
      at++;
      const rhs = primary();
      v = op === '/' ? div(v, rhs) : mul(v, rhs);
    }
    return v;
  };
  const sum = (): Rational => {
    let v = product();
    for (let op = peek(); op === '+' || op === '-'; op = peek()) {
      at++;
      v = op === '+' ? add(v, product()) : sub(v, product());
    }
    return v;
  };
  try {
    if (tokens.length === 0) return undefined;
    const value = sum();
    return at === tokens.length ? value : undefined;
  } catch {
    return undefined; // a syntax error or a division by zero
  }
}
