#!/usr/bin/env node
// `node scripts/run-lanes.mjs 'A && B' 'C && D'`: runs each argument as a shell command line at the same time (one lane
// per argument) and prints each lane's output whole when that lane ends, so the log reads lane by lane. Exits with the
// first failing lane's status once all have ended (0 when all pass). `npm test` uses it to type-check and lint on
// both cores of a 2-core machine: tsc, eslint and prettier each use one core.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';

const lanes = process.argv.slice(2);
if (lanes.length === 0) {
  console.error('usage: node scripts/run-lanes.mjs "<command line>" ["<command line>" …]');
  process.exit(2);
}

function run(line) {
  return new Promise((resolve) => {
    const child = spawn(line, { shell: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    const started = Date.now();
    child.on('close', (code, signal) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const status = code ?? (signal ? 1 : 0);
      process.stdout.write(`\n> ${line}  (${status === 0 ? 'passed' : `failed, status ${status}`}, ${seconds} s)\n`);
      process.stdout.write(Buffer.concat(chunks));
      resolve(status);
    });
  });
}

const statuses = await Promise.all(lanes.map(run));
process.exit(statuses.find((status) => status !== 0) ?? 0);
