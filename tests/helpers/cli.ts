import { runCli } from '../../src/cli/main';

/** Runs `iwb` in-process with captured output (not a terminal, so progress is one line per stage). */
export async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    interactive: false,
  });
  return { code, stdout, stderr };
}
