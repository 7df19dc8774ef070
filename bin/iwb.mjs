#!/usr/bin/env node
// The `iwb` command: registers tsx so Node can load the TypeScript sources, then hands over to src/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
