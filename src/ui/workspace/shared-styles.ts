import { css } from 'lit';

/** Styles every workspace view shares (contrast: text #1f2430 / #4a5263 on white, ≥ 7:1 and ≥ 4.5:1). */
export const viewStyles = css`
  :host { display: block; color: #1f2430; }
  h3 { font-size: 1.02rem; margin: 1rem 0 0.4rem; }
  .note { color: #4a5263; font-size: 0.88rem; margin: 0.3rem 0; }
  .problem { color: #a4161a; white-space: pre-wrap; }
  .controls { display: flex; flex-wrap: wrap; gap: 0.6rem 1.2rem; align-items: end; margin: 0.4rem 0; }
  .controls label { display: flex; flex-direction: column; font-size: 0.85rem; color: #1f2430; gap: 0.15rem; }
  select, input, button { font: inherit; font-size: 0.9rem; }
  select:focus-visible, input:focus-visible, button:focus-visible, [tabindex]:focus-visible {
    outline: 3px solid #1d4ed8; outline-offset: 1px;
  }
  .num { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-variant-numeric: tabular-nums; }
  table.plain { border-collapse: collapse; font-size: 0.88rem; }
  table.plain th, table.plain td { text-align: left; padding: 0.2rem 0.6rem 0.2rem 0;
    border-bottom: 1px solid #e3e6eb; }
  .charts { display: flex; flex-wrap: wrap; gap: 1rem 2rem; }
  figure { margin: 0; }
  figcaption { font-size: 0.85rem; color: #4a5263; }
  pre.text { white-space: pre-wrap; word-break: break-word; background: #f8f9fb; border: 1px solid #e3e6eb;
    padding: 0.4rem 0.5rem; margin: 0.2rem 0; font-size: 0.85rem; max-height: 12rem; overflow: auto; }
`;
