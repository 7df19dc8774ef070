/**
 * How a fuzz case ended: a clean refusal (the domain's own error, one line, naming the place), an accepted input
 * that satisfies what accepted inputs must, or a bad outcome (an engine exception such as TypeError/RangeError, a
 * refusal of the wrong type or without its place, an accepted input that breaks an invariant, a case past the time
 * bound, a partial write or an overwritten input).
 */
export type Outcome = 'refused' | 'accepted' | 'bad';

export interface Counts {
  refused: number;
  accepted: number;
  bad: number;
}

export interface BadCase {
  readonly kind: string;
  readonly seed: number;
  readonly detail: string;
}

/** `npm run fuzz`: a case over this many milliseconds is a hang (the slowest took 0.1 s on the 2-core machine). */
export const HANG_MS = 10_000;

/** Raised by a case's own checks when an accepted input or a refusal breaks a rule. */
export class FuzzViolation extends Error {
  override readonly name = 'FuzzViolation';
}

export function violation(detail: string): never {
  throw new FuzzViolation(detail);
}

/** The error classes JavaScript itself raises on a bug (never our deliberate refusals). */
export function isEngineError(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    error instanceof RangeError ||
    error instanceof ReferenceError ||
    error instanceof SyntaxError
  );
}

/** A refusal must be one line and name its place (a file, flag or field) at the start. */
export function checkRefusal(error: Error, place: string | RegExp): void {
  const message = error.message;
  if (message.includes('\n')) violation(`refusal spans lines: ${JSON.stringify(message.slice(0, 200))}`);
  const named = typeof place === 'string' ? message.startsWith(place) : place.test(message);
  if (!named) violation(`refusal does not name ${String(place)}: ${JSON.stringify(message.slice(0, 200))}`);
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message.slice(0, 300)}`;
  return String(error).slice(0, 300);
}

/** Seeded random numbers (mulberry32), with the helpers every generator uses. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Byte-level damage shared by the generators: flips, cuts, insertions. */
export function damageBytes(random: Random, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  switch (random.int(4)) {
    case 0: {
      for (let i = 1 + random.int(4); i > 0 && out.length > 0; i--) out[random.int(out.length)] ^= 1 + random.int(255);
      return out;
    }
    case 1:
      return out.subarray(0, random.int(out.length + 1));
    case 2: {
      const at = random.int(out.length + 1);
      const junk = Uint8Array.from({ length: 1 + random.int(8) }, () => random.int(256));
      return Uint8Array.from([...out.subarray(0, at), ...junk, ...out.subarray(at)]);
    }
    default:
      return Uint8Array.from({ length: random.int(64) }, () => random.int(256));
  }
}

/** Values a hostile row, manifest or flag might hold where another was expected. */
export const ODD_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -0.5,
  1e308,
  -1e308,
  2 ** 53,
  2 ** 31,
  '',
  'x',
  '\u0000',
  '\ud800',
  '\ufeff{',
  '<script>',
  [],
  [1, 2, 3],
  [-1],
  [1.5],
  ['a'],
  {},
  { a: 1 },
  [[[[[]]]]],
  'a'.repeat(5000),
  Array.from({ length: 300 }, (_, i) => i),
];
