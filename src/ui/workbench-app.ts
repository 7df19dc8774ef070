import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { startEngineWorker } from '../worker/client';
import type { GpuProbe } from '../worker/gpu-probe';
import './gpu-status';

@customElement('workbench-app')
export class WorkbenchApp extends LitElement {
  @state() private probe: GpuProbe | undefined;
  private readonly engine = startEngineWorker();

  static override styles = css`
    :host { display: block; max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem; }
    h1 { font-size: 1.4rem; margin: 0 0 0.25rem; }
    p.lead { margin: 0 0 1rem; color: #4a5263; }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    this.engine.api.probeGpu().then(
      (probe) => (this.probe = probe),
      (error: Error) => (this.probe = { available: false, reason: `the engine worker failed: ${error.message}` }),
    );
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.engine.terminate();
  }

  override render() {
    return html`
      <h1>Influence Workbench</h1>
      <p class="lead">Which training data made a language model good at math and code? EK-FAC influence functions, on your own GPU.</p>
      <gpu-status .probe=${this.probe}></gpu-status>
    `;
  }
}
