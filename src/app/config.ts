/**
 * The one run configuration: what the page's run controls, the worker and `iwb attribute` all hand to a run, with one
 * set of defaults. The engine's part (strategy, damping, Fisher, measurement, batch sizes, …) is src/influence's
 * AttributionConfig with its DEFAULT_CONFIG; a run adds where it computes (backend) and how much data it takes
 * (limits). Everything here is plain data, so it crosses the worker boundary and is stored with a run as it is.
 */
import { DEFAULT_CONFIG, type AttributionConfig, type FisherMode, type Measurement } from '../influence/types';
import type { MeasureMode } from '../data/measure';
import { isTrackPreset } from './track-presets';

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

export const FISHER_MODES: readonly FisherMode[] = ['sampled', 'empirical'];
export const MEASUREMENTS: readonly Measurement[] = ['mean-log-likelihood', 'summed-loss'];
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'cpu'];

export interface RunLimits {
  /** First (user files) or stratified (demo) training examples to use; null: the source's default. */
  readonly train: number | null;
  readonly queries: number | null;
  /**
   * Take the limits as a seeded sample (the run's seed) stratified by domain × difficulty (queries: by benchmark)
   * instead of the first rows (data/sample.ts). The demo always samples.
   */
  readonly sample: boolean;
}

export interface RunConfig extends AttributionConfig {
  /** 'auto': WebGPU on a hardware adapter, else the float64 CPU backend (app/backend-choice.ts). */
  readonly backend: BackendChoice;
  readonly limits: RunLimits;
  /**
   * Which response tokens each query's measurement counts (app/measure.ts): 'response' every one, 'final-answer'
   * those after the answer marker (code: the bodies), 'spans' the row's own `measure` spans. A row's own spans are
   * measured whatever the mode.
   */
  readonly measure: MeasureMode;
}

export const DEFAULT_RUN_CONFIG: RunConfig = {
  ...DEFAULT_CONFIG,
  backend: 'auto',
  limits: { train: null, queries: null, sample: false },
  measure: 'response',
};

/** What a caller may change: any field, and any part of the nested batch sizes and limits. */
export type RunConfigChanges = Partial<Omit<RunConfig, 'batchSizes' | 'limits'>> & {
  readonly batchSizes?: Partial<RunConfig['batchSizes']>;
  readonly limits?: Partial<RunLimits>;
};

/** `base` with `changes` applied (the nested batch sizes and limits field by field), unchecked (config-check.ts). */
export function withChanges(base: RunConfig, changes: RunConfigChanges): RunConfig {
  return {
    ...base,
    ...changes,
    batchSizes: { ...base.batchSizes, ...changes.batchSizes },
    limits: { ...base.limits, ...changes.limits },
  };
}

/** The engine's part of a run configuration. */
export function engineConfig(config: RunConfig): AttributionConfig {
  const { backend: _backend, limits: _limits, ...engine } = config;
  // A preset chose the gradient graph's layers by role (track-presets.ts); the engine keeps every layer it offers
  // (its trackedLayers is a regular expression over the offered names, and 'mlp' read as one would drop the rest).
  return isTrackPreset(engine.trackedLayers) ? { ...engine, trackedLayers: null } : engine;
}
