import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { GpuProbe } from '../worker/gpu-probe';

/** Which WebGPU adapter the engine worker got, whether it is software, or why there is none. */
@customElement('gpu-status')
export class GpuStatus extends LitElement {
  @property({ attribute: false }) probe: GpuProbe | undefined;

  static override styles = css`
    :host { display: block; padding: 0.5rem 0.75rem; border-radius: 6px; background: #fff; border: 1px solid #d8dce3; }
    .warn { color: #8a5a00; }
    .bad { color: #a4161a; }
    code { font-size: 0.9em; }
  `;

  override render() {
    const probe = this.probe;
    if (!probe) return html`<span data-state="probing">Looking for a WebGPU adapter…</span>`;
    if (!probe.available)
      return html`<span class="bad" data-state="none">No WebGPU: ${probe.reason} The CPU backend will be used.</span>`;
    const { adapter } = probe;
    return html`<span data-state=${adapter.software ? 'software' : 'hardware'}>
      WebGPU adapter: <code data-adapter>${adapter.name}</code>
      ${
        adapter.software
          ? html`<span class="warn"> — software/fallback adapter: expect it to be far slower than a real GPU.</span>`
          : html` — hardware adapter.`
      }
    </span>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'gpu-status': GpuStatus;
  }
}
