/**
 * Screenshots of the teaching lab for docs/teaching-lab.md (docs/screenshots/teach-*.png), from the built page
 * (npm run build first) in headless Chromium. Usage: tsx scripts/shoot-teach.ts [outDir]
 */
import { mkdirSync } from 'node:fs';
import { servePage } from '../tests/helpers/browser';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const served = await servePage();
try {
  const page = await served.browser.newPage({ viewport: { width: 1320, height: 1000 } });
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  page.on('console', (m) => m.type() === 'error' && console.error('console', m.text()));
  const shots: [string, string][] = [
    ['teach-logistic', 'teach.html?model=logistic&seed=3'],
    ['teach-linear', 'teach.html?model=linear&seed=3'],
    ['teach-mlp', 'teach.html?model=mlp&seed=3'],
    ['teach-lm', 'teach.html?model=lm'],
  ];
  for (const [name, path] of shots) {
    await page.goto(served.url + path);
    await page.waitForSelector('teach-app[data-status="ready"]', { timeout: 120_000 });
    await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
    console.log('wrote', `${out}/${name}.png`);
  }
  // The tiny LM with an added sentence, one sentence being edited and a refused word named.
  await page.goto(served.url + 'teach.html?model=lm');
  await page.waitForSelector('teach-app[data-status="ready"]', { timeout: 120_000 });
  const generation = Number((await page.getAttribute('teach-app', 'data-generation')) ?? 0);
  await page.fill('lab-lm input[data-add]', 'the bird chased the cat');
  await page.click('lab-lm button[data-action="add"]');
  await page.waitForFunction((g) => Number(document.querySelector('teach-app')!.dataset.generation) > g, generation);
  await page.click('lab-lm button[data-action="edit"][data-index="2"]');
  await page.fill('lab-lm input[data-add]', 'the horse ate a fish');
  await page.click('lab-lm button[data-action="add"]');
  await page.waitForSelector('lab-lm [data-problem]');
  await page.screenshot({ path: `${out}/teach-lm-edit.png`, fullPage: false });
  console.log('wrote', `${out}/teach-lm-edit.png`);
  for (const preset of ['outlier', 'mislabelled', 'low-damping', 'nonconvex']) {
    const before = Number((await page.getAttribute('teach-app', 'data-generation')) ?? 0);
    await page.click(`button[data-preset="${preset}"]`);
    await page.waitForFunction((g) => Number(document.querySelector('teach-app')!.dataset.generation) > g, before, {
      timeout: 300_000,
    });
    await page.screenshot({ path: `${out}/teach-${preset}.png`, fullPage: false });
    console.log('wrote', `${out}/teach-${preset}.png`);
  }
} finally {
  await served.close();
}
