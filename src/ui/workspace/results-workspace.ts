import { LitElement, css, html } from 'lit';
import type { WorkspaceApi } from '../../worker/client';
import { customElement, property, state } from 'lit/decorators.js';
import type { WorkspaceIndex } from '../../worker/workspace-protocol';
import {
  DEFAULT_ROUTE,
  formatRoute,
  hashAddress,
  parseRoute,
  VIEWS,
  workspaceAddress,
  type Route,
  type ViewName,
} from './route';
import './overview-view';
import './query-view';
import './example-view';
import './analyses-view';
import './after-answer-view';
import './evaluation-view';

const VIEW_LABELS: Readonly<Record<ViewName, string>> = {
  overview: 'Overview',
  query: 'Query',
  example: 'Training example',
  analyses: 'Sequences and tokens',
  after: 'After the answer',
  evaluation: 'Evaluation',
};

/**
 * The results workspace of one stored run (a finished page run, an opened one, an imported bundle): its views behind
 * tabs (Evaluation and After the answer only when the run has what they show), their state in the URL hash
 * (route.ts) under this workspace's address, so two workspaces on one page each keep their own view and a link
 * restores the one it was made in. Views fire `navigate` with a partial route.
 */
@customElement('results-workspace')
export class ResultsWorkspace extends LitElement {
  @property({ attribute: false }) api: WorkspaceApi | undefined;
  @property({ attribute: 'run-id' }) runId = '';
  /** Where its state lives in the hash (route.ts workspaceAddress); `run=<runId>` unless given. */
  @property() address = '';
  @state() private index: WorkspaceIndex | undefined;
  @state() private problem = '';
  @state() private route: Route = DEFAULT_ROUTE;

  static override styles = css`
    :host { display: block; margin-top: 1rem; border-top: 1px solid #d8dce3; padding-top: 0.5rem; }
    /* An h3: inside a stored run's section its h2 already names the run. */
    h3.title { font-size: 1.15rem; margin: 0.3rem 0; }
    [role='tablist'] { display: flex; gap: 0.25rem; border-bottom: 2px solid #d8dce3; margin: 0.5rem 0 0.8rem;
      flex-wrap: wrap; }
    [role='tab'] { font: inherit; border: 1px solid #b7bdc8; border-bottom: none; background: #f3f4f7;
      padding: 0.35rem 0.8rem;
      border-radius: 6px 6px 0 0; cursor: pointer; color: #1f2430; }
    [role='tab'][aria-selected='true'] { background: #fff; border-color: #4a5263; font-weight: 600; }
    [role='tab']:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 1px; }
    .problem { color: #a4161a; white-space: pre-wrap; }
    .readonly { color: #4a5263; font-size: 0.9rem; }
    a { color: #1d4ed8; }
  `;

  private ownAddress(): string {
    return this.address || workspaceAddress('run', this.runId);
  }

  /** The hash is this workspace's: it names this address, or none (an older link, claimed by who reads it first). */
  private owns(hash: string): boolean {
    const named = hashAddress(hash);
    return named === null || named === this.ownAddress();
  }

  private readonly onHashChange = () => {
    if (this.owns(location.hash)) this.route = parseRoute(location.hash);
  };

  override connectedCallback(): void {
    super.connectedCallback();
    addEventListener('hashchange', this.onHashChange);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('hashchange', this.onHashChange);
  }

  override willUpdate(changed: Map<string, unknown>): void {
    if (!changed.has('runId') && !changed.has('address')) return;
    if (this.owns(location.hash)) {
      this.route = parseRoute(location.hash);
      // Name the owner now, so a second workspace opened later does not take this state for its own.
      if (this.runId) this.writeHash();
    } else this.route = DEFAULT_ROUTE;
  }

  override updated(changed: Map<string, unknown>): void {
    if ((changed.has('api') || changed.has('runId')) && this.api && this.runId) void this.load();
  }

  private async load(): Promise<void> {
    this.index = undefined;
    this.problem = '';
    try {
      this.index = await this.api!.index(this.runId);
    } catch (error) {
      this.problem = `Could not open the run's results: ${(error as Error).message}`;
    }
  }

  private navigate(change: Partial<Route>): void {
    this.route = { ...this.route, ...change };
    this.writeHash();
  }

  private writeHash(): void {
    const hash = formatRoute(this.route, this.ownAddress());
    history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
  }

  /** A link that reopens this view: a ?bundle= link's workspace keeps the link, others name the stored run. */
  private linkToView(): string {
    const params = new URLSearchParams(location.search);
    if (!this.ownAddress().startsWith('bundle=')) {
      params.delete('demo');
      params.delete('bundle');
      params.set('run', this.runId);
    }
    return `${location.pathname}?${params.toString()}${formatRoute(this.route, this.ownAddress())}`;
  }

  /**
   * The Evaluation tab only for runs that carry an evaluation, After the answer only for runs with after-answer
   * segments (a deep link to either elsewhere shows the tab, and the view says what the run lacks).
   */
  private views(): readonly ViewName[] {
    const has: Partial<Record<ViewName, boolean>> = {
      evaluation: this.index?.hasEvaluation,
      after: this.index?.hasAfterSegments,
    };
    return VIEWS.filter((view) => !(view in has) || has[view] || this.route.view === view);
  }

  private onTabKey(event: KeyboardEvent): void {
    const views = this.views();
    const at = views.indexOf(this.route.view);
    const next =
      event.key === 'ArrowRight'
        ? (at + 1) % views.length
        : event.key === 'ArrowLeft'
          ? (at + views.length - 1) % views.length
          : -1;
    if (next < 0) return;
    event.preventDefault();
    this.navigate({ view: views[next]! });
    void this.updateComplete.then(() =>
      this.renderRoot.querySelector<HTMLElement>(`[role='tab'][aria-selected='true']`)?.focus(),
    );
  }

  override render() {
    if (this.problem) return html`<p class="problem" data-workspace-error>${this.problem}</p>`;
    const index = this.index;
    if (!index) return html`<p class="readonly">Opening the results…</p>`;
    const route = this.route;
    const onNavigate = (e: CustomEvent<Partial<Route>>) => this.navigate(e.detail);
    return html`
      <h3 class="title">Workspace: <span data-workspace-name>${index.name}</span></h3>
      <p class="readonly">${index.imported ? `Read-only: imported from ${index.settings.importedFrom}. ` : ''}
        <a href=${this.linkToView()} data-view-link>Link to this view</a> (opens these results in this browser; with
        <code>?bundle=</code> in the address, in any browser that can fetch the bundle).</p>
      <div role="tablist" aria-label="Workspace views" @keydown=${(e: KeyboardEvent) => this.onTabKey(e)}>
        ${this.views().map(
          (view) => html`<button role="tab" id=${`tab-${view}`} aria-controls="view-panel" data-tab=${view}
            aria-selected=${route.view === view ? 'true' : 'false'} tabindex=${route.view === view ? 0 : -1}
            @click=${() => this.navigate({ view })}>${VIEW_LABELS[view]}</button>`,
        )}
      </div>
      <div role="tabpanel" id="view-panel" aria-labelledby=${`tab-${route.view}`} @navigate=${onNavigate}>
        ${this.renderView(index, route)}
      </div>
    `;
  }

  private renderView(index: WorkspaceIndex, route: Route) {
    const api = this.api!;
    switch (route.view) {
      case 'overview':
        return html`<overview-view .api=${api} .index=${index} .route=${route}></overview-view>`;
      case 'query':
        return html`<query-view .api=${api} .index=${index} .route=${route}></query-view>`;
      case 'example':
        return html`<example-view .api=${api} .index=${index} .route=${route}></example-view>`;
      case 'analyses':
        return html`<analyses-view .api=${api} .index=${index} .route=${route}></analyses-view>`;
      case 'after':
        return html`<after-answer-view .api=${api} .index=${index} .route=${route}></after-answer-view>`;
      case 'evaluation':
        return html`<evaluation-view .api=${api} .index=${index} .route=${route}></evaluation-view>`;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'results-workspace': ResultsWorkspace;
  }
}
