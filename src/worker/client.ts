/**
 * The page's typed handle on the engine worker. Its type is the worker's `Session` (session.ts) as comlink sees it,
 * one plain object per namespace: nothing is declared twice, and a method added to the Session is on the page's
 * handle at once. Function arguments (progress callbacks) cross as comlink proxies; the bytes of a run's model and
 * of a bundle move to the worker rather than being copied.
 */
import { proxy, transfer, wrap, type Remote } from 'comlink';
import type { Session } from './session';

/** The namespaces of the Session the page calls (each a plain object of methods). */
type Namespace = 'attribution' | 'models' | 'runs' | 'workspace' | 'evaluation';

/** A namespace as the page calls it: each method returns a promise of what the worker's returns. */
export type Facade<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export type EngineClient = { readonly [N in Namespace]: Facade<Session[N]> } & {
  probeGpu(): ReturnType<Session['probeGpu']>;
  terminate(): void;
};

type Call = (key: string, args: readonly unknown[]) => Promise<unknown>;

/**
 * comlink forwards a nested call (`remote.runs.rank(…)`) as one message naming the path; its types show a nested
 * object as a promise (a property read), so the namespace is reached here by name and the result typed by Facade.
 */
function caller(remote: Remote<Session>, namespace: Namespace): Call {
  const target = Reflect.get(remote, namespace) as object;
  return (key, args) => (Reflect.get(target, key) as (...a: readonly unknown[]) => Promise<unknown>)(...args);
}

/**
 * A remote namespace as a plain-looking object: each property read is the method of that name. Lit probes a
 * property's value for its own markers (names starting `_$`), and `await` probes `then`; a comlink proxy answers
 * every probe with another proxy, so these (and symbols) answer undefined here. Functions among the arguments are
 * passed as comlink proxies (the worker calls them back). `overrides` replace methods that transfer their bytes.
 */
export function facade<N extends Namespace>(
  remote: Remote<Session>,
  namespace: N,
  overrides: (call: Call) => Partial<Facade<Session[N]>> = () => ({}),
): Facade<Session[N]> {
  const call = caller(remote, namespace);
  return new Proxy(overrides(call) as Facade<Session[N]>, {
    get: (own, key) => {
      if (typeof key !== 'string' || key.startsWith('_$') || key === 'then') return undefined;
      if (Object.hasOwn(own, key)) return (own as Record<string, unknown>)[key];
      return (...args: unknown[]) =>
        call(
          key,
          args.map((a) => (typeof a === 'function' ? proxy(a) : a)),
        );
    },
  });
}

/** The namespaces as the page's components receive them (each a plain object: see facade). */
export type StoredRunsApi = EngineClient['runs'];
export type WorkspaceApi = EngineClient['workspace'];
export type EvaluationApi = EngineClient['evaluation'];

export function startEngineWorker(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'iwb-engine' });
  return engineClient(wrap<Session>(worker), () => worker.terminate());
}

/** The page's handle on a wrapped Session (a Worker in the page; a MessagePort in tests). */
export function engineClient(remote: Remote<Session>, terminate: () => void): EngineClient {
  return {
    attribution: facade(remote, 'attribution', (call) => ({
      // The model bytes move to the worker rather than being copied (a picked model is there already).
      start: (request, onProgress) =>
        call('start', [
          request.source.kind === 'files' ? transfer(request, [request.source.model]) : request,
          proxy(onProgress),
        ]) as ReturnType<Session['attribution']['start']>,
    })),
    models: facade(remote, 'models'),
    runs: facade(remote, 'runs', (call) => ({
      importBundle: (bytes, name) =>
        call('importBundle', [transfer(bytes, [bytes.buffer]), name]) as ReturnType<Session['runs']['importBundle']>,
      viewBundle: (bytes, name) =>
        call('viewBundle', [transfer(bytes, [bytes.buffer]), name]) as ReturnType<Session['runs']['viewBundle']>,
    })),
    workspace: facade(remote, 'workspace'),
    evaluation: facade(remote, 'evaluation'),
    probeGpu: () => remote.probeGpu(),
    terminate,
  };
}
