// Rebuilds the small raw-data samples the unit tests read (tests/fixtures/raw-data) from the team's copies of GSM8K
// and MBPP in ../shared/data. Only this script reads ../shared; the tests read the committed samples, so a clone
// with nothing beside it passes. Run after public/data changes: npx tsx scripts/build-test-fixtures.ts
//
// The sample is exactly what tests/unit/data-demo.test.ts checks: the raw records behind the first and last 50 demo
// training rows (each row must be reproducible from the record it names), GSM8K train line 0 and MBPP task 601.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const sharedData = path.resolve(repoRoot, '../shared/data');
const out = path.join(repoRoot, 'tests/fixtures/raw-data');

const lines = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0);
const demoTrain = lines(path.join(repoRoot, 'public/data/train.jsonl')).map((l) => JSON.parse(l) as { id: string });
const checked = [...demoTrain.slice(0, 50), ...demoTrain.slice(-50)].map((r) => r.id);

const gsmLines = new Set<number>([0]);
const mbppTasks = new Set<number>([601]);
for (const id of checked) {
  if (id.startsWith('gsm8k-train-')) gsmLines.add(Number(id.slice('gsm8k-train-'.length)));
  else if (id.startsWith('mbpp-')) mbppTasks.add(Number(id.slice('mbpp-'.length)));
  else throw new Error(`unexpected demo row id ${id}`);
}

const gsm = lines(path.join(sharedData, 'gsm8k/train.jsonl'));
const mbpp = lines(path.join(sharedData, 'mbpp/mbpp.jsonl'));
mkdirSync(out, { recursive: true });
// Each GSM8K record keeps its 0-based line number in train.jsonl, which is what the demo id encodes.
writeFileSync(
  path.join(out, 'gsm8k-train-sample.jsonl'),
  [...gsmLines]
    .sort((a, b) => a - b)
    .map((n) => `{"line":${n},"record":${gsm[n]}}\n`)
    .join(''),
);
writeFileSync(
  path.join(out, 'mbpp-sample.jsonl'),
  [...mbppTasks]
    .sort((a, b) => a - b)
    .map((task) => `${mbpp[task - 1]}\n`)
    .join(''),
);
copyFileSync(path.join(sharedData, 'gsm8k/LICENSE'), path.join(out, 'LICENSE-GSM8K'));
copyFileSync(path.join(sharedData, 'mbpp/LICENSE.md'), path.join(out, 'LICENSE-MBPP.md'));
console.log(`raw-data sample: ${gsmLines.size} GSM8K train records, ${mbppTasks.size} MBPP tasks -> ${out}`);
