/**
 * What the results workspace (src/ui/workspace) gets from the engine worker: the views' data types (computed in
 * src/app/workspace-data.ts, declared in src/app/workspace-types.ts) and the worker's `workspace` namespace.
 */
export type * from '../app/workspace-types';
