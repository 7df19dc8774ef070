/**
 * What makes the write of several outputs (output.ts) survive a signal or a crash: short temporary names that say
 * whose they are (`.iwb-<pid>-<tag>.tmp`), one journal file whose atomic rename is the commit point, a guard that
 * defers SIGINT/SIGTERM while outputs are being written, and the recovery the next run does for a writer that died:
 *
 * - died before its journal existed: its temporaries are removed (rolled back: the old outputs stay);
 * - died after: the journal lists every (temporary → target); those still there are renamed (rolled forward: the
 *   new outputs, all of them), then its backups and the journal are removed.
 *
 * A writer counts as dead when no process has its pid (kill(pid, 0) says ESRCH); a live one is never touched.
 */
import * as fs from 'node:fs/promises';
import path from 'node:path';

export const OUTPUT_PREFIX = '.iwb-';
const OWN = /^\.iwb-(\d+)-[a-z0-9]+\.(tmp|bak|journal)$/;

/** `.iwb-<pid>-<8 random>.<kind>` in `dir`: at most 30 characters, whatever the target's name. */
export function ownedName(dir: string, kind: 'tmp' | 'bak' | 'journal'): string {
  return path.join(dir, `${OUTPUT_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 10)}.${kind}`);
}

export interface JournalEntry {
  readonly target: string;
  readonly temp: string;
  readonly backup: string | null;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Completes or rolls back what dead writers left in `dirs` (see the file comment); quiet about what it cannot do. */
export async function recoverOutputs(dirs: readonly string[]): Promise<void> {
  for (const dir of new Set(dirs)) {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const dead = names.filter((name) => {
      const match = OWN.exec(name);
      return match !== null && !alive(Number(match[1]));
    });
    // Journals first: their temporaries are the new outputs, not litter.
    for (const name of dead.filter((n) => n.endsWith('.journal'))) {
      const journal = path.join(dir, name);
      let entries: JournalEntry[];
      try {
        entries = (JSON.parse(await fs.readFile(journal, 'utf8')) as { entries: JournalEntry[] }).entries;
      } catch {
        continue; // Not ours to guess at.
      }
      for (const entry of entries) await fs.rename(entry.temp, entry.target).catch(() => undefined);
      for (const entry of entries) if (entry.backup) await fs.unlink(entry.backup).catch(() => undefined);
      await fs.unlink(journal).catch(() => undefined);
    }
    for (const name of dead.filter((n) => !n.endsWith('.journal')))
      await fs.unlink(path.join(dir, name)).catch(() => undefined);
  }
}

/**
 * SIGINT and SIGTERM held while outputs are written: `interrupted` says one came, `step` is where the writer looks
 * (and where a test pauses it: IWB_TEST_PAUSE_AT=<step> prints `iwb-test: paused at <step>` on stderr and waits for
 * a signal), and `release` removes the handlers and, if a signal came, delivers it again to end the process as it
 * asked.
 */
export function signalGuard(): {
  readonly interrupted: () => boolean;
  step(name: string): Promise<void>;
  release(outcome: string): void;
} {
  let signal: NodeJS.Signals | null = null;
  let wake: (() => void) | null = null;
  const onSignal = (received: NodeJS.Signals) => {
    signal ??= received;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    interrupted: () => signal !== null,
    async step(name) {
      if (process.env.IWB_TEST_PAUSE_AT !== name || signal !== null) return;
      process.stderr.write(`iwb-test: paused at ${name}\n`);
      const alive = setInterval(() => undefined, 60_000); // A pending promise alone would let Node exit.
      await new Promise<void>((resolve) => (wake = resolve));
      clearInterval(alive);
      wake = null;
    },
    release(outcome) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (signal === null) return;
      process.stderr.write(`iwb: ${signal} while writing the outputs: ${outcome}\n`);
      process.kill(process.pid, signal);
    },
  };
}
