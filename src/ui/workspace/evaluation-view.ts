import { LitElement, css, html, type TemplateResult } from 'lit';
import type { WorkspaceApi } from '../../worker/client';
import { customElement, property } from 'lit/decorators.js';
import { Task, TaskStatus } from '@lit/task';
import * as Plot from '@observablehq/plot';
import type { EvaluationData } from '../../worker/evaluation-protocol';
import type { WorkspaceIndex } from '../../worker/workspace-protocol';
import { formatScore, TICK_FORMAT } from './model';
import { navigateEvent, valueOf, type Route } from './route';
import { viewStyles } from './shared-styles';

type StrategyData = EvaluationData['strategies'][number];

/** A recorded configuration in words: `key value` pairs (values as JSON: it is data, shown, never interpreted). */
const describe = (record: Readonly<Record<string, unknown>>): string =>
  Object.entries(record)
    .map(([key, value]) => `${key} ${JSON.stringify(value)}`)
    .join(', ');

/** The onnxruntime EP the retrains ran on, as recorded (evaluations made before it was recorded ran on wasm). */
function retrainedOn(training: Readonly<Record<string, unknown>> | null): string {
  const ep = training?.executionProvider;
  if (ep === 'webgpu') return "onnxruntime's WebGPU EP (float32 on the GPU; not bit-for-bit repeatable)";
  if (ep === 'wasm') return "onnxruntime's wasm EP (float32 on the CPU; bit-for-bit repeatable)";
  return 'not recorded (made before the EP was recorded: the wasm EP)';
}

/** Three decimals, '—' where not finite. */
const fixedOrDash = (value: number): string => (Number.isFinite(value) ? value.toFixed(3) : '—');

/** Correlations and LDS: three decimals, '—' where undefined (no query ranked, no LOO). */
const corr = (value: number | null): string => (value === null ? '—' : value.toFixed(3));

/**
 * Evaluation: how well each strategy's influence predicted retraining. The LDS table (mean over queries with its
 * bootstrap 95 % interval, the protocol's M, α, R), each query's LDS, a scatter of one query's predicted vs measured
 * subset measurements, and leave-one-out's actual vs predicted change. Every number is the evaluation's own (stored
 * in the run or bundle); this view only lays them out.
 */
@customElement('evaluation-view')
export class EvaluationView extends LitElement {
  @property({ attribute: false }) api: WorkspaceApi | undefined;
  @property({ attribute: false }) index: WorkspaceIndex | undefined;
  @property({ attribute: false }) route: Route | undefined;

  private readonly data = new Task(this, {
    task: async ([api, index]) => (api && index ? api.evaluation(index.runId) : undefined),
    args: () => [this.api, this.index] as const,
  });

  static override styles = [
    viewStyles,
    css`
    table.plain td.num, table.plain th.num { text-align: right; padding-right: 1rem; }
    caption { text-align: left; font-size: 0.85rem; color: #4a5263; padding-bottom: 0.3rem; }
    dl.protocol { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; font-size: 0.9rem; margin: 0; }
    dt { color: #4a5263; }
    dd { margin: 0; }
    dd.wrap { overflow-wrap: anywhere; }
    tr.unresolved td { color: #6b7280; }
    table[data-paired-table] { margin-top: 1rem; }
  `,
  ];

  override updated(): void {
    const data = this.data.status === TaskStatus.COMPLETE ? this.data.value : undefined;
    if (data) {
      const { strategy, query } = this.selection(data);
      this.setAttribute('data-ready', `${strategy.strategy}|${query}`);
    } else if (this.data.status === TaskStatus.ERROR) this.setAttribute('data-ready', 'error');
    else this.removeAttribute('data-ready');
  }

  private selection(data: EvaluationData): { strategy: StrategyData; query: string; q: number } {
    const route = this.route;
    const strategy =
      data.strategies.find((s) => s.strategy === route?.strategy) ??
      data.strategies.find((s) => s.strategy === 'ekfac') ??
      data.strategies.at(-1)!;
    const found = data.queryIds.indexOf(route?.query ?? '');
    const q = found >= 0 ? found : 0;
    return { strategy, query: data.queryIds[q]!, q };
  }

  private go(change: Partial<Route>): void {
    this.dispatchEvent(navigateEvent(change));
  }

  override render() {
    return this.data.render({
      pending: () => html`<p class="note">Reading the evaluation…</p>`,
      error: (error) => html`<p class="problem" data-error>${(error as Error).message}</p>`,
      complete: (data) => (data ? this.renderData(data) : html``),
    });
  }

  private renderData(data: EvaluationData): TemplateResult {
    const { config, measurement, training } = data.info;
    const { strategy, query, q } = this.selection(data);
    const seeds = `${config.seedsPerSubset} seed${config.seedsPerSubset === 1 ? '' : 's'}`;
    return html`
      <h3>Linear datamodeling score</h3>
      <p class="note">Each of M = ${config.subsets} random subsets of α = ${config.fraction} of the training set was
        retrained from the same initialisation (R = ${seeds} each). For every query, LDS is the Spearman correlation
        across subsets between the subset's summed influence and the retrained model's measurement; the table gives
        its mean over queries with a bootstrap 95 % interval (${config.bootstrapSamples} resamples, seed
        ${config.seed}).</p>
      ${this.ldsTable(data)} ${this.pairedTable(data)}
      <dl class="protocol" data-protocol>
        <dt>measurement</dt><dd>${measurement}</dd>
        <dt>retrained on</dt><dd data-retrain-ep>${retrainedOn(training)}</dd>
        <dt>training</dt><dd class="wrap">${training ? describe(training) : 'not recorded'}</dd>
      </dl>
      <h3>LDS of each query</h3>
      ${this.perQueryChart(data)}
      <h3>Predicted vs measured, one query</h3>
      <div class="controls">
        <label>Strategy<select data-eval-strategy @change=${(e: Event) => this.go({ strategy: valueOf(e) })}>
          ${data.strategies.map(
            (s) => html`<option value=${s.strategy} ?selected=${s === strategy}>${s.strategy}</option>`,
          )}</select></label>
        <label>Query<select data-eval-query @change=${(e: Event) => this.go({ query: valueOf(e) })}>
          ${data.queryIds.map((id) => html`<option value=${id} ?selected=${id === query}>${id}</option>`)}</select></label>
      </div>
      ${this.subsetScatter(data, strategy, q)}
      ${data.loo ? this.looSection(data, strategy) : html`<p class="note">No leave-one-out in this evaluation.</p>`}
    `;
  }

  private ldsTable(data: EvaluationData): TemplateResult {
    const { config } = data.info;
    const q = data.queryIds.length;
    return html`<table class="plain" data-lds-table>
      <caption>LDS per strategy (higher is better; 1 = the influence ranks every subset as retraining does)</caption>
      <thead><tr><th scope="col">strategy</th><th scope="col" class="num">LDS</th>
        <th scope="col" class="num">95 % interval</th><th scope="col" class="num">queries ranked</th>
        <th scope="col" class="num">M</th><th scope="col" class="num">α</th><th scope="col" class="num">R</th>
        <th scope="col" class="num">LOO Pearson</th><th scope="col" class="num">LOO Spearman</th></tr></thead>
      <tbody>${data.info.strategies.map(
        (s) => html`<tr data-lds-strategy=${s.strategy} data-mean=${String(s.mean)} data-low=${String(s.low)}
          data-high=${String(s.high)} data-queries=${s.queries}>
          <th scope="row">${s.strategy}</th><td class="num">${corr(s.mean)}</td>
          <td class="num">${s.mean === null ? '—' : `[${corr(s.low)}, ${corr(s.high)}]`}</td>
          <td class="num">${s.queries} of ${q}</td><td class="num">${config.subsets}</td>
          <td class="num">${config.fraction}</td><td class="num">${config.seedsPerSubset}</td>
          <td class="num">${corr(s.looPearson)}</td><td class="num">${corr(s.looSpearman)}</td></tr>`,
      )}</tbody></table>`;
  }

  /**
   * Paired differences: whether one strategy beats another on the same retrains is a question about the per-query
   * differences, not about whether two separate intervals overlap. Each row: mean of ρ_a − ρ_b over queries, its
   * two-way (queries × subsets) bootstrap interval, the sign-flip p-value, and a verdict in words.
   */
  private pairedTable(data: EvaluationData): TemplateResult {
    const paired = data.paired;
    if (!paired) return html`<p class="note">Too few subsets for a two-way bootstrap or a paired comparison.</p>`;
    const resolved = (low: number, high: number) => low > 0 || high < 0;
    const overlap = paired.twoWay.some((a, i) =>
      paired.twoWay.some((b, j) => i < j && a.low <= b.high && b.low <= a.high),
    );
    return html`<table class="plain" data-paired-table>
        <caption>Paired differences of per-query LDS (same retrains; two-way bootstrap over queries × subsets,
          ${paired.samples} resamples; sign-flip permutation p)</caption>
        <thead><tr><th scope="col">comparison</th><th scope="col" class="num">difference</th>
          <th scope="col" class="num">95 % interval</th><th scope="col" class="num">p</th>
          <th scope="col" class="num">queries</th><th scope="col">verdict</th></tr></thead>
        <tbody>${paired.pairs.map(
          (p) => html`<tr data-paired=${`${p.a}-${p.b}`} data-mean=${String(p.mean)} data-low=${String(p.low)}
            data-high=${String(p.high)} data-p=${String(p.p)} class=${resolved(p.low, p.high) ? '' : 'unresolved'}>
            <th scope="row">${p.a} − ${p.b}</th><td class="num">${fixedOrDash(p.mean)}</td>
            <td class="num">[${fixedOrDash(p.low)}, ${fixedOrDash(p.high)}]</td>
            <td class="num">${Number.isFinite(p.p) ? p.p.toFixed(3) : '—'}${p.exact ? ' (exact)' : ''}</td>
            <td class="num">${p.count}</td>
            <td>${
              resolved(p.low, p.high)
                ? `${p.mean > 0 ? p.a : p.b} ahead (interval excludes 0)`
                : `not resolved at ${p.count} queries × ${data.info.config.subsets} subsets`
            }</td></tr>`,
        )}</tbody></table>
      <p class="note" data-two-way>Two-way 95 % intervals of each LDS (queries and subsets both resampled; wider than
        the table's, which resamples queries only): ${paired.twoWay
          .map((t) => `${t.strategy} [${fixedOrDash(t.low)}, ${fixedOrDash(t.high)}]`)
          .join('; ')}.${
          overlap
            ? ' Some of these intervals overlap: read the paired rows above, not the overlap, to compare strategies.'
            : ''
        }</p>`;
  }

  private perQueryChart(data: EvaluationData): TemplateResult {
    const points = data.strategies.flatMap((s) =>
      Array.from(s.perQuery, (lds, q) => ({
        strategy: s.strategy,
        query: data.queryIds[q]!,
        lds,
        ranked: s.ranked[q],
      })).filter((p) => p.ranked === 1),
    );
    const chart = Plot.plot({
      width: 640,
      height: Math.max(120, 26 * data.queryIds.length + 50),
      marginLeft: 140,
      x: { domain: [-1, 1], label: 'LDS (Spearman across subsets)', grid: true },
      y: { label: null, domain: [...data.queryIds] },
      color: { legend: true, domain: data.strategies.map((s) => s.strategy), scheme: 'Dark2' },
      marks: [
        Plot.ruleX([0], { stroke: '#4a5263' }),
        Plot.dot(points, { x: 'lds', y: 'query', fill: 'strategy', r: 4, tip: true }),
      ],
      ariaLabel: 'LDS of each query, per strategy',
    });
    chart.setAttribute('data-per-query-chart', '');
    return html`<div class="charts"><figure>${chart}<figcaption>Unranked queries (a measurement or prediction that
      never varied) are left out.</figcaption></figure>
      <details><summary class="note">The numbers</summary><table class="plain" data-per-query-table>
        <thead><tr><th scope="col">query</th>${data.strategies.map(
          (s) => html`<th scope="col" class="num">${s.strategy}</th>`,
        )}</tr></thead>
        <tbody>${data.queryIds.map(
          (id, q) =>
            html`<tr><th scope="row">${id}</th>${data.strategies.map(
              (s) => html`<td class="num">${s.ranked[q] ? s.perQuery[q]!.toFixed(3) : '—'}</td>`,
            )}</tr>`,
        )}</tbody></table></details></div>`;
  }

  private subsetScatter(data: EvaluationData, strategy: StrategyData, q: number): TemplateResult {
    const queries = data.queryIds.length;
    const rows = Array.from({ length: data.info.config.subsets }, (_, m) => ({
      subset: m,
      predicted: strategy.predictions[m * queries + q]!,
      measured: data.measured[m * queries + q]!,
    }));
    const lds = strategy.ranked[q] ? strategy.perQuery[q]!.toFixed(3) : 'undefined';
    const chart = Plot.plot({
      width: 520,
      height: 340,
      marginLeft: 70,
      inset: 12,
      grid: true,
      x: { label: `predicted: Σ influence over the subset (${strategy.strategy})`, tickFormat: TICK_FORMAT },
      y: { label: 'measured after retraining', tickFormat: TICK_FORMAT },
      marks: [Plot.dot(rows, { x: 'predicted', y: 'measured', fill: '#5e3c99', r: 4, tip: true })],
      ariaLabel: `predicted vs measured for query ${data.queryIds[q]}, strategy ${strategy.strategy}`,
    });
    chart.setAttribute('data-subset-scatter', '');
    return html`<div class="charts"><figure>${chart}<figcaption>Query <span data-eval-query-id>${data.queryIds[q]}</span>:
        LDS <span data-eval-query-lds>${lds}</span> over ${rows.length} subsets.</figcaption></figure>
      <details><summary class="note">The numbers</summary>
        <table class="plain" data-subset-table><thead><tr><th scope="col">subset</th>
          <th scope="col" class="num">predicted</th><th scope="col" class="num">measured</th></tr></thead>
        <tbody>${rows.map(
          (r) => html`<tr data-subset=${r.subset} data-predicted=${String(r.predicted)}
            data-measured=${String(r.measured)}><td>${r.subset}</td><td class="num">${formatScore(r.predicted)}</td>
            <td class="num">${formatScore(r.measured)}</td></tr>`,
        )}</tbody></table></details></div>`;
  }

  private looSection(data: EvaluationData, strategy: StrategyData): TemplateResult {
    const loo = data.loo!;
    const { looPerQuery: k, looStrategy } = data.info.config;
    const queries = data.queryIds.length;
    const pairs = data.queryIds.flatMap((query, q) =>
      Array.from({ length: 2 * k }, (_, c) => {
        const e = loo.chosen[q * 2 * k + c]!;
        return {
          query,
          train: loo.trainIds[e]!,
          side: c < k ? 'top' : 'bottom',
          actual: loo.actual[e * queries + q]!,
          predicted: strategy.looPredicted[e * queries + q]!,
        };
      }),
    );
    const chart = Plot.plot({
      width: 520,
      height: 340,
      marginLeft: 70,
      inset: 12,
      grid: true,
      x: { label: `predicted change −I/N (${strategy.strategy})`, tickFormat: TICK_FORMAT },
      y: { label: 'actual change when left out', tickFormat: TICK_FORMAT },
      color: { legend: true, domain: ['top', 'bottom'], range: ['#5e3c99', '#e66101'] },
      marks: [
        Plot.ruleX([0], { stroke: '#9aa1ad' }),
        Plot.ruleY([0], { stroke: '#9aa1ad' }),
        Plot.dot(pairs, { x: 'predicted', y: 'actual', fill: 'side', r: 4, tip: true }),
      ],
      ariaLabel: `leave-one-out actual vs predicted change, strategy ${strategy.strategy}`,
    });
    chart.setAttribute('data-loo-scatter', '');
    return html`<h3>Leave-one-out</h3>
      <p class="note">Each query's top and bottom ${k} training examples by ${looStrategy ?? 'the first strategy'} were
        left out of the full training set one at a time and the model retrained; actual change of the query's
        measurement vs the influence's prediction.</p>
      <div class="charts">${chart}
        <details><summary class="note">The numbers</summary><table class="plain" data-loo-table>
          <thead><tr><th scope="col">query</th><th scope="col">left out</th><th scope="col">side</th>
            <th scope="col" class="num">actual</th><th scope="col" class="num">predicted</th></tr></thead>
          <tbody>${pairs.map(
            (p) => html`<tr data-loo-pair data-actual=${String(p.actual)} data-predicted=${String(p.predicted)}>
              <td>${p.query}</td><td>${p.train}</td><td>${p.side}</td><td class="num">${formatScore(p.actual)}</td>
              <td class="num">${formatScore(p.predicted)}</td></tr>`,
          )}</tbody></table></details></div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'evaluation-view': EvaluationView;
  }
}
