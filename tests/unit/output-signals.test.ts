/**
 * Signals while outputs are written (issue 25 §4): the installed `iwb` is paused at each step of its write
 * (IWB_TEST_PAUSE_AT, output-journal.ts) and sent SIGINT, SIGTERM or SIGKILL there. Whatever the step, the outputs
 * end all old or all new — after SIGKILL once the next run has recovered — and no temporary, backup or journal is
 * left.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recoverOutputs } from '../../src/cli/output-journal';
import { fixturePath } from '../helpers/fixtures';

const BUNDLE = fixturePath('workspace/small.iwb');
const work = mkdtempSync(path.join(tmpdir(), 'iwb-signals-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `iwb export` paused at `step`, sends `signal` once it says so, and resolves with how it ended. */
function interrupted(dir: string, step: string, signal: NodeJS.Signals): Promise<{ signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/iwb.mjs', 'export', BUNDLE, '--csv', dir], {
      env: { ...process.env, IWB_TEST_PAUSE_AT: step },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(`iwb-test: paused at ${step}\n`)) child.kill(signal);
    });
    child.on('error', reject);
    child.on('exit', (code, ended) => {
      if (!stderr.includes('paused at')) reject(new Error(`never paused at ${step} (exit ${code}): ${stderr}`));
      else resolve({ signal: ended });
    });
  });
}

function oldOutputs(name: string): string {
  const dir = path.join(work, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'scores.csv'), 'old scores');
  writeFileSync(path.join(dir, 'self.csv'), 'old self');
  return dir;
}

/** 'old' or 'new' for both outputs together; a mix fails the test. */
function state(dir: string): 'old' | 'new' {
  const scores = readFileSync(path.join(dir, 'scores.csv'), 'utf8') === 'old scores';
  const self = readFileSync(path.join(dir, 'self.csv'), 'utf8') === 'old self';
  expect(scores, 'scores.csv and self.csv from the same write').toBe(self);
  return scores ? 'old' : 'new';
}

describe('a signal at each step of the write', () => {
  it('SIGINT/SIGTERM: old outputs before the commit point, new after; SIGKILL: the next run completes or rolls back', async () => {
    const cases = [
      { step: 'staged', signal: 'SIGINT', want: 'old' },
      { step: 'staged', signal: 'SIGTERM', want: 'old' },
      { step: 'journaled', signal: 'SIGTERM', want: 'new' },
      { step: 'renamed-1', signal: 'SIGINT', want: 'new' },
      { step: 'staged', signal: 'SIGKILL', want: 'old' },
      { step: 'journaled', signal: 'SIGKILL', want: 'new' },
      { step: 'renamed-1', signal: 'SIGKILL', want: 'new' },
    ] as const;
    const dirs = cases.map((c) => oldOutputs(`${c.step}-${c.signal}`));
    const ended = await Promise.all(cases.map((c, i) => interrupted(dirs[i]!, c.step, c.signal)));
    for (const [i, c] of cases.entries()) {
      const what = `${c.signal} at ${c.step}`;
      // The process ends by the signal it was sent (re-raised after the write was finished or undone).
      expect(ended[i]!.signal, what).toBe(c.signal);
      if (c.signal === 'SIGKILL') {
        expect(
          readdirSync(dirs[i]!).some((f) => f.startsWith('.iwb-')),
          `${what} leaves its files`,
        ).toBe(true);
        await recoverOutputs([dirs[i]!]);
      }
      expect(state(dirs[i]!), what).toBe(c.want);
      const left = readdirSync(dirs[i]!);
      expect(
        left.filter((f) => f.startsWith('.')),
        `${what}: no temporary, backup or journal`,
      ).toEqual([]);
      // Old: only the two files that were there; new: every file of the export (tokens.csv too).
      expect(left.length, what).toBe(c.want === 'old' ? 2 : 3);
    }
  }, 240_000);
});
