/**
 * What the "Inside EK-FAC" panels show, per tracked layer, read from the engine's own EK-FAC run (its factors in
 * kronfluence's layout: sums with counts): A, S, their eigenbases, Λ against the K-FAC product λ_S ⊗ λ_A, and the
 * query gradient before and after preconditioning, P_q = Q_S [(Q_Sᵀ G_q Q_A) ⊘ (Λ + δ)] Q_Aᵀ.
 */
import type { ScoredRun } from './results';

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export interface InsideLayer {
  readonly name: string;
  readonly activation: Matrix;
  readonly gradient: Matrix;
  readonly activationVectors: Matrix;
  readonly activationValues: Float64Array;
  readonly gradientVectors: Matrix;
  readonly gradientValues: Float64Array;
  /** Λ and the K-FAC λ_S[i]·λ_A[j], both [dOut × dIn']. */
  readonly lambda: Matrix;
  readonly kfac: Matrix;
  readonly queryGradient: Matrix;
  readonly preconditioned: Matrix;
  readonly damping: number;
}

function matrix(rows: number, cols: number, data: Float64Array): Matrix {
  if (data.length !== rows * cols)
    throw new Error(`inside EK-FAC: ${data.length} values for a [${rows} × ${cols}] matrix`);
  return { rows, cols, data };
}

/** Row-major product a · b. */
function multiply(a: Matrix, b: Matrix): Matrix {
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++)
    for (let k = 0; k < a.cols; k++)
      for (let j = 0; j < b.cols; j++) out[i * b.cols + j] += a.data[i * a.cols + k] * b.data[k * b.cols + j];
  return matrix(a.rows, b.cols, out);
}

function transpose(a: Matrix): Matrix {
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out[j * a.rows + i] = a.data[i * a.cols + j];
  return matrix(a.cols, a.rows, out);
}

export function insideEkfac(result: ScoredRun, q: number): InsideLayer[] {
  return result.ekfacRun.layers.map((shape, l) => {
    const f = result.ekfacRun.factors.layers[l];
    const dIn = shape.dIn + 1;
    const dOut = shape.dOut;
    const need = <T>(v: T | undefined, what: string): T => {
      if (v === undefined) throw new Error(`inside EK-FAC: layer ${shape.name} has no ${what}`);
      return v;
    };
    const mean = (sum: Float64Array, count: number) => sum.map((v) => v / count);
    const activation = matrix(
      dIn,
      dIn,
      mean(need(f.activationCovarianceSum, 'A').data, need(f.activationCount, 'A count')),
    );
    const gradient = matrix(
      dOut,
      dOut,
      mean(need(f.gradientCovarianceSum, 'S').data, need(f.gradientCount, 'S count')),
    );
    const qA = matrix(dIn, dIn, need(f.activationEigenvectors, 'Q_A').data);
    const qS = matrix(dOut, dOut, need(f.gradientEigenvectors, 'Q_S').data);
    const lambdaA = need(f.activationEigenvalues, 'λ_A').data;
    const lambdaS = need(f.gradientEigenvalues, 'λ_S').data;
    const lambda = matrix(dOut, dIn, mean(need(f.lambdaSum, 'Λ').data, need(f.lambdaCount, 'Λ count')));
    const kfac = matrix(
      dOut,
      dIn,
      Float64Array.from({ length: dOut * dIn }, (_, k) => lambdaS[Math.floor(k / dIn)] * lambdaA[k % dIn]),
    );
    const queryGradient = matrix(dOut, dIn, result.queryGradients[q][l]);
    const damping = result.ekfacRun.layers[l].damping;
    const rotated = multiply(multiply(transpose(qS), queryGradient), qA);
    const scaled = matrix(
      dOut,
      dIn,
      rotated.data.map((v, k) => v / (lambda.data[k] + damping)),
    );
    const preconditioned = multiply(multiply(qS, scaled), transpose(qA));
    return {
      name: shape.name,
      activation,
      gradient,
      activationVectors: qA,
      activationValues: lambdaA,
      gradientVectors: qS,
      gradientValues: lambdaS,
      lambda,
      kfac,
      queryGradient,
      preconditioned,
      damping,
    };
  });
}
