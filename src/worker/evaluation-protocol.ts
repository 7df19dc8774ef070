/** The page's evaluation as the engine worker runs it (src/app/evaluation-types.ts), for the page's imports. */
export * from '../app/evaluation-types';
