/**
 * Building and checking a RunConfig (apart from config.ts, which the page imports for its defaults without pulling
 * in the engine).
 */
import { MEASURE_MODES } from '../data/measure';
import { validateConfig } from '../influence/pipeline';
import {
  BACKEND_CHOICES,
  DEFAULT_RUN_CONFIG,
  FISHER_MODES,
  MEASUREMENTS,
  type RunConfig,
  withChanges,
  type RunConfigChanges,
} from './config';

/** The defaults with `changes` applied, checked: a bad value throws one error naming the field. */
export function runConfig(changes: RunConfigChanges = {}, base: RunConfig = DEFAULT_RUN_CONFIG): RunConfig {
  const config = withChanges(base, changes);
  checkRunConfig(config);
  return config;
}

export function checkRunConfig(config: RunConfig): void {
  validateConfig(config);
  const oneOf = <T>(name: string, value: T, allowed: readonly T[]): void => {
    if (!allowed.includes(value))
      throw new Error(`config.${name}: "${String(value)}" is not one of ${allowed.join(', ')}`);
  };
  oneOf('fisher', config.fisher, FISHER_MODES);
  oneOf('measurement', config.measurement, MEASUREMENTS);
  oneOf('backend', config.backend, BACKEND_CHOICES);
  // Runs stored before span measurements have no field: the whole response.
  oneOf('measure', config.measure ?? 'response', MEASURE_MODES);
  for (const name of ['train', 'queries'] as const) {
    const value = config.limits[name];
    if (value !== null && (!Number.isSafeInteger(value) || value < 1)) {
      throw new Error(`config.limits.${name} must be null or a positive integer, got ${value}`);
    }
  }
  if (typeof config.limits.sample !== 'boolean')
    throw new Error(`config.limits.sample must be true or false, got ${String(config.limits.sample)}`);
  if (!Number.isSafeInteger(config.seed) || config.seed < 0)
    throw new Error(`config.seed must be a non-negative integer, got ${config.seed}`);
  if (config.trackedLayers !== null) {
    try {
      new RegExp(config.trackedLayers);
    } catch (error) {
      throw new Error(
        `config.trackedLayers "${config.trackedLayers}" is not a valid regular expression: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
}
