/**
 * The committed evaluation bundle of the e2e tests (tests/fixtures/evaluation/micro.iwb): a real `iwb evaluate` of the
 * micro demo with tiny settings (12 training examples, 4 queries, 8 subsets, 10 training steps, LOO k = 1, all four
 * strategies), about 20 s on one core. Run `npx tsx scripts/evaluation-fixture.ts` to make it again.
 */
import { runCli } from '../src/cli/main';

const args = [
  'evaluate',
  '--demo',
  'micro',
  '--limit-train',
  '12',
  '--limit-queries',
  '4',
  '--subsets',
  '8',
  '--steps',
  '10',
  '--loo',
  '1',
  '--out',
  'tests/fixtures/evaluation/micro.iwb',
];
process.exitCode = await runCli(args);
