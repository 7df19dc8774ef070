/**
 * The test fixtures that live in the repository (tests/fixtures). Tests read them through these helpers so that a
 * missing file fails with a message naming it, rather than with a bare ENOENT deep inside a parser. Nothing here
 * reads the team's shared folder: a clone with nothing beside it must pass (scripts/build-test-fixtures.ts rebuilds
 * the samples).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Absolute path of a committed fixture; throws naming the file (and the rebuild script) when it is absent. */
export function fixturePath(relative: string): string {
  const file = `${root}${relative}`;
  if (!existsSync(file)) {
    throw new Error(
      `test fixture missing: tests/fixtures/${relative} (committed with the repository; ` +
        'raw-data samples are rebuilt by `npx tsx scripts/build-test-fixtures.ts`)',
    );
  }
  return file;
}

export const readFixture = (relative: string): Buffer => readFileSync(fixturePath(relative));
export const readFixtureText = (relative: string): string => readFileSync(fixturePath(relative), 'utf8');

/** kronfluence 1.0.1's reference models, factors and scores (tests/fixtures/kronfluence/README.md). */
export const KRONFLUENCE_FIXTURES = fixturePath('kronfluence');
