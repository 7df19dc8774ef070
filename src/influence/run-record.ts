/**
 * The running record of one attribution run, shared by its stages (fit-factors.ts, score-queries.ts): the checkpoint
 * as it stands, saved after every chunk through RunOptions.checkpoint, and the wall time per stage, added across
 * resumed sessions.
 */
import { now } from './chunks';
import type {
  AttributionConfig,
  Backend,
  GradientSource,
  LayerInfo,
  RunCheckpoint,
  RunOptions,
  StageName,
  StageTiming,
} from './types';

export class RunRecord {
  private readonly timings: Map<StageName, StageTiming>;

  constructor(
    /** The checkpoint as it stands (the stages read what earlier stages or sessions left). */
    public current: RunCheckpoint,
    private readonly options: RunOptions,
  ) {
    this.timings = new Map(current.timings.map((t) => [t.stage, t]));
  }

  /** Merges `update` (and the timings so far) into the record and saves it. */
  async save(update: Partial<RunCheckpoint>): Promise<void> {
    this.current = { ...this.current, ...update, timings: this.stageTimings() };
    await this.options.checkpoint?.save(this.current);
  }

  /** Merges without saving (what the next save writes). */
  merge(update: Partial<RunCheckpoint>): void {
    this.current = { ...this.current, ...update };
  }

  /** Runs `work`, adding its wall time to `stage` (and `items`, the stage's items done so far). */
  async timed<T>(stage: StageName, items: number, work: () => Promise<T>): Promise<T> {
    const start = now();
    try {
      return await work();
    } finally {
      const previous = this.timings.get(stage);
      this.timings.set(stage, { stage, seconds: (previous?.seconds ?? 0) + (now() - start) / 1000, items });
    }
  }

  stageTimings(): StageTiming[] {
    return [...this.timings.values()];
  }
}

/** What every stage of a run reads: the run's configuration, backend, gradient source and tracked layers. */
export interface RunStageInputs {
  readonly config: AttributionConfig;
  readonly backend: Backend;
  readonly source: GradientSource;
  /** Indices into source.layers of the tracked layers, and those layers. */
  readonly layerIndices: readonly number[];
  readonly layers: readonly LayerInfo[];
  readonly trainSize: number;
  readonly options: RunOptions;
}
