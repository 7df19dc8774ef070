import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import {
  FULL_DEMO_BUNDLE_PATH,
  FULL_DEMO_MANIFEST_PATH,
  formatDownloadSize,
  parseFullDemoManifest,
  type FullDemoManifest,
} from '../core/full-demo';

const STRATEGY_NAMES: Readonly<Record<string, string>> = { ekfac: 'EK-FAC', kfac: 'K-FAC', diagonal: 'diagonal' };

/** localStorage key: the visitor said "Not now" to the offer (it is not shown again). */
const DISMISSED_KEY = 'iwb.full-demo-offer';

/**
 * The first visit's offer (issue 20 §2): "Explore the full demo — computed with this page's engine", the precomputed
 * bundle of the whole demo (public/demo/full-demo.iwb), opened as a `?bundle=` link: read-only, without computing.
 * Shown on
 * a plain visit (no run or bundle in the address) of a build that has the bundle (vite.config.ts sets
 * IWB_FULL_DEMO), or with `?offer=full-demo`; it says the download's size from the manifest (precached, small). The
 * bundle itself is cached by the service worker on first open, not with the page's first paint.
 */
@customElement('full-demo-offer')
export class FullDemoOffer extends LitElement {
  @state() private manifest: FullDemoManifest | null = null;
  @state() private problem = '';

  static override styles = css`
    :host { display: block; }
    .offer { background: #eef4fb; border: 1px solid #c7d6ea; border-radius: 6px; padding: 0.6rem 0.9rem;
      margin: 0.5rem 0 1rem; }
    .offer strong { font-size: 1.05rem; }
    .offer a.open { display: inline-block; margin: 0.4rem 0.8rem 0 0; padding: 0.3rem 0.8rem; background: #1d4f91;
      color: #fff; border-radius: 4px; text-decoration: none; }
    .offer button { font: inherit; }
    .meta { color: #4a5263; font-size: 0.9rem; }
    .problem { color: #a4161a; font-size: 0.9rem; }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    // data-state (tests, and a reader of the page): not-offered, loading, offered, dismissed or problem.
    const offer = shouldOffer();
    this.dataset.state = offer ? 'loading' : 'not-offered';
    if (offer) void this.load();
  }

  private async load(): Promise<void> {
    const url = new URL(FULL_DEMO_MANIFEST_PATH, location.href);
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.manifest = parseFullDemoManifest(await response.text(), url.pathname);
      this.dataset.state = 'offered';
    } catch (error) {
      this.dataset.state = 'problem';
      this.problem = `The full demo's description could not be read (${(error as Error).message}).`;
    }
  }

  private dismiss(): void {
    localStorage.setItem(DISMISSED_KEY, 'dismissed');
    this.manifest = null;
    this.dataset.state = 'dismissed';
  }

  override render() {
    if (this.problem) return html`<p class="problem" data-full-demo-problem>${this.problem}</p>`;
    const m = this.manifest;
    if (!m) return html``;
    // The content's hash in the bundle's URL: the service worker's cache (by URL) never serves an older build.
    const bundleUrl = `${FULL_DEMO_BUNDLE_PATH.replace(/[^/]*$/, m.bundle.file)}?v=${m.bundle.sha256.slice(0, 12)}`;
    const href = `?${new URLSearchParams({ bundle: bundleUrl }).toString()}`;
    return html`<div class="offer" data-full-demo-offer>
      <strong>Explore the full demo — computed with this page's engine</strong>
      <div class="meta">
        Every training example and query of the demo (${m.train.toLocaleString('en')} × ${m.queries.toLocaleString('en')}),
        ${STRATEGY_NAMES[m.strategy] ?? m.strategy} on the ${m.backend} backend, with sequence and token analyses: it opens at once,
        nothing is computed. Download <span data-full-demo-size>${formatDownloadSize(m.bundle.bytes)}</span>, kept for
        offline use once opened.
      </div>
      <a class="open" href=${href} data-action="open-full-demo">Open the full demo</a>
      <button data-action="dismiss-full-demo" @click=${() => this.dismiss()}>Not now</button>
      <span class="meta">Or run a demo yourself below.</span>
    </div>`;
  }
}

/** A plain first visit of a build with the bundle (or the test hook ?offer=full-demo), not dismissed before. */
function shouldOffer(): boolean {
  if (localStorage.getItem(DISMISSED_KEY) === 'dismissed') return false;
  if (new URLSearchParams(location.search).get('offer') === 'full-demo') return true;
  return import.meta.env.IWB_FULL_DEMO === 'yes' && location.search === '' && location.hash === '';
}
