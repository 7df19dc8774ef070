/** Flag fuzz cases: random argument lists through the CLI's parser; what it accepts must be well-formed. */
import { ATTRIBUTE_FLAGS, CliUsageError, parseCommand } from '../../src/cli/args';
import { checkRefusal, violation, type Outcome, type Random } from './classify';

/** Every flag `iwb attribute` takes (its own and the options table's), and some it does not. */
const FLAGS = [...Object.keys(ATTRIBUTE_FLAGS).map((flag) => `--${flag}`), '-h', '--nope', '-x', '--', '-'];
const VALUES = [
  '',
  '0',
  '1',
  '007',
  '-1',
  '1.5',
  '1e3',
  '1e-3',
  '0x10',
  '0b1',
  '0o7',
  'Infinity',
  '-Infinity',
  'NaN',
  ' 5',
  '5 ',
  '9007199254740993',
  'heuristic',
  'ekfac',
  'kfac',
  'diagonal',
  'identity',
  'cpu',
  'webgpu',
  'micro',
  'demo',
  '(',
  '.*',
  'a.jsonl',
  '/dev/zero',
  '--out',
  '=',
  '\u0000',
  'é',
  '1_000',
  '.5',
  '5.',
];

export function flagCase(random: Random): string[] {
  const argv = [random.chance(0.95) ? 'attribute' : random.pick(['help', 'attr', '', '--help', 'ATTRIBUTE'])];
  for (let i = random.int(7); i > 0; i--) {
    const flag = random.pick(FLAGS);
    if (random.chance(0.15)) argv.push(`${flag}=${random.pick(VALUES)}`);
    else {
      argv.push(flag);
      if (random.chance(0.8)) argv.push(random.pick(VALUES));
    }
  }
  return argv;
}

const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

export function runFlagCase(argv: readonly string[]): Outcome {
  let command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (error instanceof CliUsageError) {
      checkRefusal(error, /./);
      return 'refused';
    }
    throw error;
  }
  if (command.name === 'help') return 'accepted';
  const names = argv
    .slice(1)
    .filter((a) => a.startsWith('-'))
    .map((a) => a.split('=')[0]);
  if (new Set(names).size !== names.length) violation(`accepted a repeated flag: ${JSON.stringify(argv)}`);
  const a = command.args;
  const { damping, limits, batchSizes, queryRank, seed } = a.config;
  if (damping.kind === 'absolute') {
    const at = argv.indexOf('--damping');
    const raw = at >= 0 ? argv[at + 1]! : argv.find((x) => x.startsWith('--damping='))!.slice('--damping='.length);
    if (!(Number.isFinite(damping.value) && damping.value >= 0 && DECIMAL.test(raw)))
      violation(`accepted --damping ${JSON.stringify(raw)}`);
  }
  for (const [name, value] of [
    ['limits.train', limits.train],
    ['limits.queries', limits.queries],
    ['maxLength', a.maxLength],
    ['batchSizes.fit', batchSizes.fit],
    ['batchSizes.query', batchSizes.query],
  ] as const) {
    if (value !== undefined && value !== null && !(Number.isSafeInteger(value) && value >= 1)) {
      violation(`accepted ${name} ${value}`);
    }
  }
  if (queryRank !== null && queryRank !== undefined && !(Number.isSafeInteger(queryRank) && queryRank >= 1)) {
    violation(`accepted queryRank ${queryRank}`);
  }
  if (!(Number.isSafeInteger(seed) && seed >= 0)) violation(`accepted seed ${seed}`);
  return 'accepted';
}
