import { LitElement, css, html, type TemplateResult } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import * as Plot from '@observablehq/plot';
import { formatChange, readGroupEvidence, type EvidencePoint, type GroupEvidenceReport } from './group-evidence-data';

const ARM_COLOURS: Record<string, string> = { remove: '#b5452b', upweight: '#1f6fb4' };

/**
 * The Evidence panel (issue 24 §3): for each group (domain × difficulty cell), removed and up-weighted, the change
 * of each benchmark's measurement that its summed influence predicts against the change retraining measured (mean
 * over seeds, t 95 % interval, n), whatever the sign; and the record's calibration slope, sign accuracy and
 * group-LDS with their two-way intervals. It reads group-evidence records (`sources`: URLs, one per --track; or
 * `records`: parsed JSON). With `cells`, it shows only records whose groups are exactly those cells (a run on other
 * data gets no evidence that is not its own). Text from the record is rendered as text.
 */
@customElement('group-evidence-panel')
export class GroupEvidencePanel extends LitElement {
  @property({ attribute: false }) sources: readonly string[] = [];
  @property({ attribute: false }) records: readonly unknown[] = [];
  /** The run's "domain/difficulty" cells; null: show any record. */
  @property({ attribute: false }) cells: readonly string[] | null = null;
  @state() private reports: GroupEvidenceReport[] = [];
  @state() private chosen = 0;
  @state() private problem: string | null = null;

  static override styles = css`
    :host { display: block; margin: 1rem 0; }
    h3 { margin: 0.4rem 0; }
    .note { color: #4a5263; font-size: 0.88rem; line-height: 1.4; }
    .problem { color: #a4262c; font-weight: 600; }
    .figures { display: flex; flex-wrap: wrap; gap: 1.2rem; }
    figure { margin: 0; }
    figcaption { font-size: 0.85rem; color: #30374a; max-width: 420px; }
    table { border-collapse: collapse; font-size: 0.82rem; margin: 0.4rem 0; }
    th, td { padding: 0.15rem 0.5rem; border-bottom: 1px solid #dde1e7; text-align: left; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    td.miss { color: #a4262c; }
    button[aria-pressed='true'] { font-weight: 700; }
    code { background: #eceff3; padding: 0 0.25rem; border-radius: 3px; }
  `;

  override async updated(changed: Map<string, unknown>): Promise<void> {
    if (!changed.has('sources') && !changed.has('records') && !changed.has('cells')) return;
    try {
      const loaded = [...this.records];
      for (const url of this.sources) {
        const response = await fetch(url);
        // A run without a committed record (a user's own data, an older build) simply has no evidence to show.
        // (A static server may answer a missing file with its HTML fallback: only JSON is a record.)
        if (response.status === 404 || !(response.headers.get('content-type') ?? '').includes('json')) continue;
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
        loaded.push(await response.json());
      }
      const reports = loaded.map(readGroupEvidence);
      const wanted = this.cells ? [...this.cells].sort().join('|') : null;
      this.reports = reports.filter(
        (r) => wanted === null || [...new Set(r.points.map((p) => p.group))].sort().join('|') === wanted,
      );
      this.problem = null;
    } catch (error) {
      this.problem = (error as Error).message;
    }
    this.dataset.status = this.problem ? 'error' : this.reports.length ? 'ready' : 'empty';
  }

  override render(): TemplateResult {
    if (this.problem) return html`<h3>Evidence</h3><p class="problem" data-error>${this.problem}</p>`;
    const r = this.reports[Math.min(this.chosen, this.reports.length - 1)];
    if (!r) return html``;
    return html`
      <h3>Evidence: does retraining move the benchmark as the groups' influence predicts?</h3>
      <p class="note">
        Each group (${r.groups}) was removed, and up-weighted ${r.factor}×, with the rest of its domain taking up or
        giving the weight (domain shares unchanged); every arm and the unchanged pool were retrained with
        ${r.seeds} seeds (${r.retrained}). Predicted: Σ (w − 1)·influence / N from the influence of ${r.attributed}.
        Actual: arm − the same seed's baseline, mean log-likelihood per answer token; mean over seeds with a t 95 %
        interval. From <code>${r.command}</code>.
      </p>
      ${
        this.reports.length > 1
          ? html`<p data-tracks>Tracked layers: ${this.reports.map(
              (other, i) =>
                html`<button aria-pressed=${String(other === r)} data-track=${other.track}
                  @click=${() => (this.chosen = i)}>${other.track}</button> `,
            )}</p>`
          : ''
      }
      <div class="figures">${r.benchmarks.map((b) => this.figure(r, b))}</div>
      ${this.table(r)}
    `;
  }

  private figure(r: GroupEvidenceReport, benchmark: string): TemplateResult {
    const points = r.points.filter((p) => p.benchmark === benchmark);
    const e = r.evidence[benchmark]!;
    const est = (x: { value: number; low: number; high: number }) =>
      `${formatChange(x.value)} [${formatChange(x.low)}, ${formatChange(x.high)}]`;
    const extent = Math.max(...points.map((p) => Math.abs(p.predicted)), 1e-12);
    const chart = Plot.plot({
      width: 400,
      height: 280,
      marginLeft: 60,
      grid: true,
      x: { label: 'predicted change →', tickFormat: '.1e' },
      y: { label: '↑ actual change (nats)' },
      color: { domain: Object.keys(ARM_COLOURS), range: Object.values(ARM_COLOURS), legend: true },
      marks: [
        Plot.ruleY([0], { stroke: '#8a909c' }),
        Plot.ruleX([0], { stroke: '#8a909c' }),
        Plot.line(
          [
            [-extent, -extent * e.slopeThroughOrigin.value],
            [extent, extent * e.slopeThroughOrigin.value],
          ],
          { stroke: '#444', strokeDasharray: '4 3' },
        ),
        Plot.ruleX(
          points.filter((p) => p.low !== null),
          { x: 'predicted', y1: 'low', y2: 'high', stroke: 'arm', strokeOpacity: 0.6 },
        ),
        Plot.dot(points, {
          x: 'predicted',
          y: 'actual',
          fill: 'arm',
          r: 4,
          title: (p: EvidencePoint) => `${p.group} ${p.arm}`,
        }),
      ],
    });
    return html`<figure data-benchmark=${benchmark}>
      ${chart}
      <figcaption data-headline=${benchmark}>
        <strong>${benchmark}</strong>: ${e.points} points × ${e.seeds} seeds. Calibration slope (through 0, dashed)
        ${est(e.slopeThroughOrigin)}; with intercept ${est(e.slope)}. Sign accuracy ${est(e.signAccuracy)}. Group-LDS
        ${est(e.groupLds)}; noise ceiling √${formatChange(e.reliability)}; normalised
        ${e.normalisedLds === null ? 'n/a (no reliable ranking at this noise)' : formatChange(e.normalisedLds)}.
      </figcaption>
    </figure>`;
  }

  private table(r: GroupEvidenceReport): TemplateResult {
    return html`<table data-evidence>
      <thead><tr><th>benchmark</th><th>group</th><th>arm</th><th>n</th><th>predicted</th><th>actual</th>
        <th>95 % interval</th><th>seeds</th></tr></thead>
      <tbody>${r.points.map((p) => {
        const miss = Math.sign(p.predicted) !== Math.sign(p.actual);
        return html`<tr data-point data-benchmark=${p.benchmark} data-group=${p.group} data-arm=${p.arm}>
          <td>${p.benchmark}</td><td>${p.group}</td><td>${p.arm}</td><td class="num">${p.size}</td>
          <td class="num" data-field="predicted">${formatChange(p.predicted)}</td>
          <td class=${miss ? 'num miss' : 'num'} data-field="actual"
            title=${miss ? 'sign differs from the prediction' : ''}>${formatChange(p.actual)}</td>
          <td class="num" data-field="interval">[${formatChange(p.low)}, ${formatChange(p.high)}]</td>
          <td class="num" data-field="seeds">${p.seeds}</td></tr>`;
      })}</tbody>
    </table>`;
  }
}
