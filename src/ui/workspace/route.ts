/**
 * The workspace's view state lives in the URL hash, so a link (plus ?run= or ?bundle=, which pick the data)
 * reopens the same view: #run=<id>&view=query&query=q7&norm=self-influence&sort=raw&example=t12&target=benchmark:gsm8k.
 * The first part is the address of the workspace the state belongs to (a live run's and an opened run's workspace
 * can share a page): `run=<run id>`, or `bundle=<sha256 prefix>` for a bundle opened from a ?bundle= link.
 */
import type { InfluenceTarget, Normalization } from '../../worker/protocol';
import type { SortKey } from './model';

export const VIEWS = ['overview', 'query', 'example', 'analyses', 'after', 'evaluation'] as const;
export type ViewName = (typeof VIEWS)[number];

export interface Route {
  readonly view: ViewName;
  readonly norm: Normalization;
  /** Query view: the chosen query, its search text and benchmark filter. */
  readonly query: string;
  readonly search: string;
  readonly benchmark: string;
  readonly sort: SortKey;
  readonly ascending: boolean;
  readonly domain: string;
  readonly difficulty: string;
  readonly segment: string;
  /** Training-example view: its search text, the example and what its token influence is on. */
  readonly find: string;
  readonly example: string;
  readonly target: string;
  /** Evaluation view: the strategy whose per-query scatter is shown ('' for the bundle's own). */
  readonly strategy: string;
}

export const DEFAULT_ROUTE: Route = {
  view: 'overview',
  norm: 'none',
  query: '',
  search: '',
  benchmark: '',
  sort: 'shown',
  ascending: false,
  domain: '',
  difficulty: '',
  segment: '',
  find: '',
  example: '',
  target: '',
  strategy: '',
};

const NORMS: readonly Normalization[] = ['none', 'self-influence', 'token-count'];
const SORTS: readonly SortKey[] = ['shown', 'raw', 'self-influence', 'token-count', 'self'];

export function parseRoute(hash: string): Route {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const text = (key: keyof Route) => params.get(key) ?? (DEFAULT_ROUTE[key] as string);
  const pick = <T extends string>(key: keyof Route, allowed: readonly T[]): T => {
    const value = params.get(key) as T | null;
    return value !== null && allowed.includes(value) ? value : (DEFAULT_ROUTE[key] as T);
  };
  return {
    view: pick('view', VIEWS),
    norm: pick('norm', NORMS),
    query: text('query'),
    search: text('search'),
    benchmark: text('benchmark'),
    sort: pick('sort', SORTS),
    ascending: params.get('ascending') === '1',
    domain: text('domain'),
    difficulty: text('difficulty'),
    segment: text('segment'),
    find: text('find'),
    example: text('example'),
    target: text('target'),
    strategy: text('strategy'),
  };
}

const ADDRESS_KEYS = ['run', 'bundle'] as const;

/** A workspace's address as it appears in the hash, e.g. "run=run-1234" (URL-encoded). */
export function workspaceAddress(key: (typeof ADDRESS_KEYS)[number], value: string): string {
  return new URLSearchParams([[key, value]]).toString();
}

/** The address a hash names, or null for a hash without one (links made before workspaces had addresses). */
export function hashAddress(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  for (const key of ADDRESS_KEYS) {
    const value = params.get(key);
    if (value !== null) return workspaceAddress(key, value);
  }
  return null;
}

/** The hash of a workspace's view: its address, then only what differs from the defaults, so links stay short. */
export function formatRoute(route: Route, address = ''): string {
  const params = new URLSearchParams(address);
  for (const key of Object.keys(DEFAULT_ROUTE) as (keyof Route)[]) {
    const value = route[key];
    if (value === DEFAULT_ROUTE[key]) continue;
    params.set(key, typeof value === 'boolean' ? (value ? '1' : '0') : value);
  }
  return `#${params.toString()}`;
}

/** "query:<id>" or "benchmark:<name>" (the example view's target) as the worker's InfluenceTarget. */
export function parseTarget(target: string): InfluenceTarget | null {
  const colon = target.indexOf(':');
  if (colon < 0) return null;
  const kind = target.slice(0, colon);
  const value = target.slice(colon + 1);
  if (kind === 'query') return { query: value };
  if (kind === 'benchmark') return { benchmark: value };
  return null;
}

/** What a view fires to change the route (it bubbles to the workspace, which keeps the hash in step). */
export function navigateEvent(change: Partial<Route>): CustomEvent<Partial<Route>> {
  return new CustomEvent('navigate', { detail: change, bubbles: true, composed: true });
}

/** The value of the select or input an event came from. */
export function valueOf(event: Event): string {
  return (event.target as HTMLSelectElement | HTMLInputElement).value;
}
