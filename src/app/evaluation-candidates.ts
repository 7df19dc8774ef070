/**
 * Several hyperparameter settings (dampings × Fishers) evaluated on ONE set of retrains (issue 24 §2): each
 * candidate is one `runEvaluationJob` with the same store, so the first trains the retrains and the others read them
 * back (the retrains do not depend on how influence is computed), and the protocol (src/eval/protocol.ts) chooses
 * among them on the tuning split and reports on the held-out one.
 */
import { memoryEvaluationStore } from '../eval/store';
import type { Candidate } from '../eval/protocol';
import type { Damping, FisherMode } from '../influence/types';
import type { Strategy } from '../core/strategy';
import type { BundleContent } from '../store/bundle';
import type { ChosenBackend } from './backend-choice';
import { DEFAULT_RUN_CONFIG } from './config';
import {
  runEvaluationJob,
  type EvaluationJobOptions,
  type EvaluationSettings,
  type InfluenceCache,
} from './evaluation-job';
import type { RunInputs } from './inputs';

export interface CandidateSettings {
  readonly damping: Damping;
  readonly fisher: FisherMode;
}

/** "heuristic:0.1" / "0.001" / "sampled": how a setting is written on the command line. */
export function dampingLabel(damping: Damping): string {
  return damping.kind === 'heuristic' ? `heuristic:${damping.factor}` : String(damping.value);
}

export function candidateLabel(c: CandidateSettings): string {
  return `damping ${dampingLabel(c.damping)}, fisher ${c.fisher}`;
}

/** Every damping with every Fisher, in the order given (damping outer). */
export function candidateGrid(dampings: readonly Damping[], fishers: readonly FisherMode[]): CandidateSettings[] {
  return dampings.flatMap((damping) => fishers.map((fisher) => ({ damping, fisher })));
}

export interface CandidateRun extends Candidate {
  readonly candidate: CandidateSettings;
  /** The bundled strategy's content of this candidate's attribution (when a bundle was asked for). */
  readonly bundled: BundleContent | null;
  /** Each strategy's influence [Q × N] as evaluated. */
  readonly influence: ReadonlyMap<Strategy, Float64Array>;
}

/**
 * Runs the evaluation once per candidate on a shared store (the options' store, else one in memory) and influence
 * cache (the options' cache, else one in memory), so the retrains run once and each attribution once.
 */
export async function runCandidates(
  inputs: RunInputs,
  settings: Omit<EvaluationSettings, 'damping' | 'fisher'>,
  candidates: readonly CandidateSettings[],
  chosen: ChosenBackend,
  options: EvaluationJobOptions,
): Promise<CandidateRun[]> {
  if (candidates.length === 0) throw new Error('evaluation: no damping/Fisher setting to evaluate');
  const store = options.store ?? memoryEvaluationStore();
  const influenceCache = options.influenceCache ?? memoryInfluenceCache();
  const runs: CandidateRun[] = [];
  for (const candidate of candidates) {
    let bundled: BundleContent | null = null;
    let influence: ReadonlyMap<Strategy, Float64Array> = new Map();
    if (candidates.length > 1) options.onStep?.(`— ${candidateLabel(candidate)}`);
    const result = await runEvaluationJob(
      inputs,
      { ...settings, damping: candidate.damping, fisher: candidate.fisher },
      chosen,
      {
        ...options,
        store,
        influenceCache,
        onInfluence: (values) => {
          influence = values;
          options.onInfluence?.(values);
        },
        ...(options.bundled
          ? {
              bundled: {
                ...options.bundled,
                onContent: (content, timings) => {
                  bundled = content;
                  options.bundled!.onContent(content, timings);
                },
              },
            }
          : {}),
      },
    );
    runs.push({
      candidate,
      label: candidateLabel(candidate),
      settings: { damping: candidate.damping, fisher: candidate.fisher ?? DEFAULT_RUN_CONFIG.fisher },
      result,
      bundled,
      influence,
    });
  }
  return runs;
}

function memoryInfluenceCache(): InfluenceCache {
  const saved = new Map<string, Float64Array>();
  const contents = new Map<string, BundleContent>();
  return {
    load: async (key) => saved.get(key) ?? null,
    save: async (key, influence) => void saved.set(key, influence),
    loadContent: async (key) => contents.get(key) ?? null,
    saveContent: async (key, content) => void contents.set(key, content),
  };
}
