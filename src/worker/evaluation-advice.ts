/**
 * The evaluation panel's size advice (src/eval/power.ts), for the page: a pure function of the form's numbers, run
 * on the page's thread (nothing to compute in the worker), exported here because the page imports only this layer.
 */
export { evaluationAdvice, type EvaluationAdvice } from '../eval/power';
