/** The teaching lab page's typed handle on its worker (./lab.worker.ts). */
import { wrap, type Remote } from 'comlink';
import type { LabWorkerApi } from './lab.worker';

export function startLabWorker(): Remote<LabWorkerApi> {
  const worker = new Worker(new URL('./lab.worker.ts', import.meta.url), { type: 'module', name: 'iwb-teach' });
  return wrap<LabWorkerApi>(worker);
}
