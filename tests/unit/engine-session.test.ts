/**
 * The engine worker's Session (src/worker/session.ts) through comlink as the page reaches it (src/worker/client.ts),
 * over a MessageChannel instead of a Worker: nested namespaces (`runs.viewBundle`, `workspace.index`, …) are called
 * by their path and answer what src/app computes from the same bundle in Node; the handle answers undefined to the
 * probes of Lit (`_$…`) and of `await` (`then`), so a namespace can be a Lit property; callbacks among the arguments
 * cross as proxies and are called back; a refusal crosses as an error with its message.
 */
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { expose, wrap, type Remote } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { openBundle, rankResults } from '../../src/app/run-results';
import { workspaceIndex, workspaceOverview } from '../../src/app/workspace-data';
import { nodeSource } from '../../src/data/node-source';
import { engineClient } from '../../src/worker/client';
import { PageRunStore } from '../../src/worker/run-store';
import { Session } from '../../src/worker/session';
import { readFixture } from '../helpers/fixtures';

const storage = {
  persisted: async () => false,
  persist: async () => true,
  estimate: async () => ({ quota: 1e12, usage: 0 }),
  getDirectory: () => Promise.reject(new Error('no file system here')),
} satisfies StorageManager;

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const channel of channels.splice(0)) {
    channel.port1.close();
    channel.port2.close();
  }
});

/** One end exposes `served`, the other wraps it as the page's Worker would be wrapped. */
function connect(served: object): Remote<Session> {
  const channel = new MessageChannel();
  channels.push(channel);
  expose(served, channel.port1);
  return wrap<Session>(channel.port2);
}

function session(): Session {
  return new Session({
    gpu: undefined,
    siteRoot: 'http://localhost/',
    fetchSource: () => nodeSource(),
    openStore: () => PageRunStore.open({ indexedDB: new IDBFactory(), IDBKeyRange }, storage),
  });
}

describe('engine session over comlink', () => {
  it('answers nested namespace calls with what src/app computes from the bundle', async () => {
    const client = engineClient(connect(session()), () => undefined);
    const bytes = readFixture('workspace/small.iwb');
    const local = (await openBundle(bytes, 'small')).results;
    // The bytes are transferred: the test keeps its own copy.
    const view = await client.runs.viewBundle(bytes.slice(), 'small');
    expect(view).toMatchObject({ name: 'small', imported: true, summary: local.summary });
    const query = { query: local.result.queries[1]!.id };
    expect(await client.runs.rank(view.runId, query, 5, 'self-influence')).toEqual(
      rankResults(local, query, 5, 'self-influence'),
    );
    const index = await client.workspace.index(view.runId);
    expect(index).toEqual({ ...workspaceIndex(view.runId, local, 'small'), hasEvaluation: false });
    expect(await client.workspace.overview(view.runId, 'none')).toEqual(workspaceOverview(local, 'none'));
    // Viewed, not stored: nothing is listed until it is kept, then it is.
    expect(await client.runs.listRuns()).toEqual([]);
    await client.runs.keepBundle(view.runId);
    expect((await client.runs.listRuns()).map((run) => run.id)).toEqual([view.runId]);
    await expect(client.runs.keepBundle(view.runId)).rejects.toThrow(/no bundle is open without being stored/);
  });

  it('answers undefined to Lit’s and await’s probes, so a namespace is a plain property value', async () => {
    const client = engineClient(connect(session()), () => undefined);
    const runs: unknown = client.runs;
    expect(Reflect.get(client.workspace, '_$litDirective$')).toBeUndefined();
    expect(Reflect.get(client.runs, '_$litType$')).toBeUndefined();
    expect(Reflect.get(client.evaluation, 'then')).toBeUndefined();
    expect(await runs).toBe(client.runs);
    expect(await client.evaluation.pending()).toEqual([]);
  });

  it('passes callbacks as proxies the worker calls back', async () => {
    const seen: string[] = [];
    const served = {
      evaluation: {
        start: async (_request: unknown, onProgress: (event: { retrain: string }) => void) => {
          await onProgress({ retrain: 'first' });
          await onProgress({ retrain: 'second' });
          return 'run-1';
        },
      },
    };
    const client = engineClient(connect(served), () => undefined);
    const request = {} as Parameters<typeof client.evaluation.start>[0];
    const id = await client.evaluation.start(request, (event) => seen.push(Reflect.get(event, 'retrain') as string));
    expect(id).toBe('run-1');
    expect(seen).toEqual(['first', 'second']);
  });
});
