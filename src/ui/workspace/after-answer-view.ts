import { LitElement, css, html, type TemplateResult } from 'lit';
import type { WorkspaceApi } from '../../worker/client';
import { customElement, property } from 'lit/decorators.js';
import { Task, TaskStatus } from '@lit/task';
import * as Plot from '@observablehq/plot';
import type { AfterAnswerData, DifferenceEffect, DomainEffects, WorkspaceIndex } from '../../worker/workspace-protocol';
import { formatScore, resolved, TICK_FORMAT, verdict } from './model';
import { navigateEvent, valueOf, type Route } from './route';
import { viewStyles } from './shared-styles';

/** One mean with its interval, as a chart row: the panel it belongs to and what it is. */
interface Point {
  readonly panel: string;
  readonly name: string;
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  readonly count: number;
}

/** A difference's verdict: which side helps more, or that this n does not tell ("with − without" → with, without). */
export function differenceVerdict(d: DifferenceEffect): string {
  const [left = 'first', right = 'second'] = d.comparison.split(' − ');
  if (!resolved(d, d.count)) return `not resolved at n = ${d.count}`;
  return d.low > 0 ? `${left} helps more than ${right}` : `${left} helps less than ${right}`;
}

/** The dot's colour class: the sign of a resolved mean, grey for an interval that spans 0. */
const signOf = (d: Point): string => (!resolved(d, d.count) ? 'not resolved' : d.mean > 0 ? 'helps' : 'harms');

/** "gsm8k ← math": the queries' benchmark and the training examples' domain of one comparison. */
const panelOf = (e: DomainEffects): string => `${e.benchmark} ← ${e.domain}`;

/** Short names for the chart's rows (the table spells each group out). */
function shortGroup(group: string, afterLabel: string): string {
  if (group.startsWith(`${afterLabel} (`)) return `${afterLabel} segment`;
  if (group === 'rest of the same examples') return 'rest of those responses';
  if (group === 'whole response, examples without the segment') return 'without: whole response';
  if (group === 'whole response, examples with the segment') return 'with: whole response';
  return group.replace(/ \(.*\)$/, '');
}

/**
 * After the answer: the after-answer experiment's comparison (docs/experiments/sequences.md) for a run whose training
 * examples carry labelled after-answer segments (the `?demo=after` variant). Per benchmark and training domain: the
 * influence of examples with the segment against those without, and of the segment against the rest of its response,
 * each a mean over training examples with a bootstrap 95 % interval, computed in the worker by the experiment's code.
 */
@customElement('after-answer-view')
export class AfterAnswerView extends LitElement {
  @property({ attribute: false }) api: WorkspaceApi | undefined;
  @property({ attribute: false }) index: WorkspaceIndex | undefined;
  @property({ attribute: false }) route: Route | undefined;

  private readonly data = new Task(this, {
    task: async ([api, index]) => (api && index ? api.afterAnswer(index.runId) : undefined),
    args: () => [this.api, this.index] as const,
  });

  static override styles = [
    viewStyles,
    css`
      table.plain td.num, table.plain th.num { text-align: right; padding-right: 1rem; }
      table.plain td.num { white-space: nowrap; }
      tr.difference td { background: #f3f4f7; }
      td.verdict { white-space: nowrap; font-weight: 600; }
      td.verdict.open { color: #5b6272; font-weight: 400; }
    `,
  ];

  override updated(): void {
    const ready = this.data.status === TaskStatus.COMPLETE || this.data.status === TaskStatus.ERROR;
    this.toggleAttribute('data-ready', ready);
  }

  override render() {
    return this.data.render({
      pending: () => html`<p class="note">Comparing segments…</p>`,
      error: (error) => html`<p class="problem" data-error>${(error as Error).message}</p>`,
      complete: (data) => (data ? this.renderData(data) : html``),
    });
  }

  private renderData(data: AfterAnswerData): TemplateResult {
    const benchmarks = [...new Set(data.effects.map((e) => e.benchmark))];
    const chosen = benchmarks.includes(this.route?.benchmark ?? '') ? this.route!.benchmark : '';
    const effects = data.effects.filter((e) => !chosen || e.benchmark === chosen);
    const differences: Point[] = effects.flatMap((e) =>
      e.differences.map((d) => ({ panel: panelOf(e), name: d.comparison, ...d })),
    );
    const counts = data.examples.map((c) => `${c.domain}: ${c.with} with, ${c.without} without`).join(' · ');
    return html`
      <h3>Does the text after the answer help?</h3>
      <p class="note">Training examples that end with a labelled after-answer segment (a re-check after GSM8K's
        <code>####</code> line: <code>after_answer</code>; a trace after MBPP's code: <code>after_code</code>) against
        those that do not, and the segment against the rest of its own response. Each value is the influence of a
        training example (summed over the tokens of the part named) on the mean log-likelihood of the benchmark's
        queries, averaged over training examples; bars are bootstrap 95 % intervals (${data.bootstrap.resamples}
        resamples of the training examples, seed ${data.bootstrap.seed}). Positive = helps.</p>
      <p class="note" data-after-counts>Training examples: ${counts}.</p>
      <div class="controls">
        <label>Benchmark<select data-after-benchmark
          @change=${(e: Event) => this.dispatchEvent(navigateEvent({ benchmark: valueOf(e) }))}>
          <option value="" ?selected=${!chosen}>all</option>
          ${benchmarks.map((b) => html`<option value=${b} ?selected=${chosen === b}>${b}</option>`)}
        </select></label>
      </div>
      <h3>Differences</h3>
      <p class="note"><strong>with − without</strong>: whole responses, examples with the segment minus examples without;
        <strong>rest − without</strong>: the same comparison without the segment's own tokens; <strong>after − rest</strong>: per example
        with the segment, the segment minus the rest of its response. An interval that excludes 0 is a difference at
        95 %; one that spans 0 (grey dot, "not resolved at n = …") leaves the sign open at this many examples.</p>
      ${this.intervalChart(differences, 'difference of mean influence per example', 'data-difference-chart')}
      ${effects.map(
        (e) => html`<section data-after-panel=${`${e.benchmark}|${e.domain}`}>
          <h3>${e.benchmark} queries ← ${e.domain} training examples</h3>
          ${this.intervalChart(
            e.groups.map((g) => ({ panel: panelOf(e), name: shortGroup(g.group, e.afterLabel), ...g })),
            'mean influence per example (per occurrence for segment labels)',
            'data-group-chart',
          )}
          ${this.table(e)}
        </section>`,
      )}
    `;
  }

  /** Means as dots with their intervals as bars, one row per name, one panel per benchmark ← domain (in data order). */
  private intervalChart(rows: readonly Point[], label: string, marker: string): TemplateResult {
    const panels = [...new Set(rows.map((r) => r.panel))];
    const names = [...new Set(rows.map((r) => r.name))];
    const chart = Plot.plot({
      width: 760,
      height: 60 + panels.length * (24 * names.length + 16),
      marginLeft: 190,
      marginRight: panels.length > 1 ? 120 : 20,
      x: { label, grid: true, tickFormat: TICK_FORMAT },
      y: { label: null, domain: names },
      fy: { label: null, domain: panels, axis: panels.length > 1 ? 'right' : null },
      color: { domain: ['helps', 'harms', 'not resolved'], range: ['#5e3c99', '#e66101', '#b7bdc8'], legend: true },
      marks: [
        Plot.ruleX([0], { stroke: '#1f2430' }),
        Plot.ruleY(rows, { fy: 'panel', y: 'name', x1: 'low', x2: 'high', stroke: '#7d8594', strokeWidth: 2 }),
        Plot.dot(rows, {
          fy: 'panel',
          y: 'name',
          x: 'mean',
          r: 4.5,
          fill: signOf,
          title: (d: Point) => `${d.name}: ${formatScore(d.mean)} [${formatScore(d.low)}, ${formatScore(d.high)}]`,
        }),
      ],
      ariaLabel: `${label}, per benchmark and training domain, with 95 % intervals`,
    });
    chart.setAttribute(marker, '');
    return html`<figure>${chart}</figure>`;
  }

  private verdictCell(text: string, sure: boolean): TemplateResult {
    return html`<td class=${sure ? 'verdict' : 'verdict open'} data-verdict=${text}>${text}</td>`;
  }

  private table(e: DomainEffects): TemplateResult {
    const key = `${e.benchmark}|${e.domain}`;
    const cells = (m: { mean: number; low: number; high: number }) =>
      html`<td class="num">${formatScore(m.mean)}</td><td class="num">[${formatScore(m.low)}, ${formatScore(m.high)}]</td>`;
    return html`<table class="plain" data-after-table=${key}
      aria-label=${`${e.benchmark} queries ← ${e.domain} training examples: groups and differences`}>
      <thead><tr><th scope="col">group or difference</th><th scope="col" class="num">n</th><th scope="col"
        class="num">mean</th><th scope="col" class="num">95 % interval</th><th scope="col" class="num">Σ</th><th
        scope="col" class="num">per token</th><th scope="col">verdict (95 %)</th></tr></thead>
      <tbody>
        ${e.groups.map(
          (g) => html`<tr data-effect=${`${key}|${g.group}`} data-mean=${String(g.mean)} data-low=${String(g.low)}
            data-high=${String(g.high)}><td>${g.group}</td><td class="num">${g.count}</td>${cells(g)}<td
            class="num">${formatScore(g.sum)}</td><td class="num">${formatScore(g.perToken)}</td>${this.verdictCell(verdict(g, g.count), resolved(g, g.count))}</tr>`,
        )}
        ${e.differences.map(
          (d) => html`<tr class="difference" data-effect=${`${key}|${d.comparison}`} data-mean=${String(d.mean)}
            data-low=${String(d.low)} data-high=${String(d.high)}><td>${d.comparison}: ${d.detail}</td><td
            class="num">${d.count}</td>${cells(d)}<td></td><td></td>${this.verdictCell(differenceVerdict(d), resolved(d, d.count))}</tr>`,
        )}
      </tbody>
    </table>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'after-answer-view': AfterAnswerView;
  }
}
