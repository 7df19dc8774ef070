/**
 * The value grammars of the run's options (app/options.ts): one parser per kind of value, shared by `iwb attribute`,
 * `iwb evaluate`, `iwb layers` and the page. Each throws a Problem whose message reads after `<option> "<value>"`.
 */
import { DEFAULT_RUN_CONFIG, type RunConfig } from './config';
import { isTrackPreset, TRACK_PRESETS } from './track-presets';

/**
 * A value outside its option's grammar; `problem` follows the option's name and the value in the message (or the name
 * alone, for a problem that says what the value is, like "is empty").
 */
export class Problem extends Error {
  constructor(
    message: string,
    readonly withValue = true,
  ) {
    super(message);
  }
}

const heuristicFactor = DEFAULT_RUN_CONFIG.damping.kind === 'heuristic' ? DEFAULT_RUN_CONFIG.damping.factor : 0.1;

/** Plain decimals only: Number() would also take 0x10, 0b1, Infinity and '  5'. */
export const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

// The grammars. Each throws a Problem that reads after `<option> "<value>"`.

export function choice<T extends string>(allowed: readonly T[]): (text: string) => T {
  return (text) => {
    if ((allowed as readonly string[]).includes(text)) return text as T;
    throw new Problem(`is not one of ${allowed.join(', ')}`);
  };
}

export function integerAtLeast(minimum: 0 | 1): (text: string) => number {
  const kind = minimum === 0 ? 'non-negative' : 'positive';
  return (text) => {
    const number = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(number) || number < minimum)
      throw new Problem(`is not a ${kind} integer (decimal digits only)`);
    return number;
  };
}

/** `heuristic` (F × mean Λ per layer, F = the default), `heuristic:F` (F > 0) or an absolute damping ≥ 0. */
export function parseDamping(text: string): RunConfig['damping'] {
  const grammar = 'is not heuristic, heuristic:F (F > 0) or a non-negative decimal number';
  if (text === 'heuristic') return { kind: 'heuristic', factor: heuristicFactor };
  const factor = /^heuristic:(.*)$/.exec(text)?.[1];
  if (factor !== undefined) {
    if (!DECIMAL.test(factor) || !(Number(factor) > 0) || !Number.isFinite(Number(factor))) throw new Problem(grammar);
    return { kind: 'heuristic', factor: Number(factor) };
  }
  const value = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(value) || value < 0) throw new Problem(grammar);
  return { kind: 'absolute', value };
}

/** A preset (mlp, attention, all: layers by role, app/track-presets.ts) or a regular expression over node names. */
export function parseTrack(text: string): string {
  if (isTrackPreset(text)) return text;
  if (text === '') throw new Problem(`is empty: give ${TRACK_PRESETS.join(', ')} or a regular expression`, false);
  try {
    new RegExp(text);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]!.trim();
    throw new Problem(`is not a valid regular expression: ${reason}`);
  }
  return text;
}

/** A flag outside the table (a command's own) that takes a positive integer, in the table's grammar and words. */
export function positiveIntegerFlag(flag: string, text: string): number {
  try {
    return integerAtLeast(1)(text);
  } catch (error) {
    throw new Error(`${flag} "${text}" ${(error as Error).message}`, { cause: error });
  }
}
