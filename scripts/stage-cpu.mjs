/**
 * Stage CPU seconds of a CLI run, for benchmarks on a shared machine (where wall time says little):
 *   node --import ./scripts/stage-cpu.mjs bin/iwb.mjs attribute …
 * Reads this process's CPU time (user + sys, all threads, onnxruntime's included) whenever a stage's progress line is
 * written, and prints each stage's share to stderr at exit. The query stage has its own line (before, its time was
 * counted with the stage whose line came next). With several query chunks query and scores lines alternate and each
 * stage keeps its last line's time, so the query figure also holds the scoring of every chunk but the last.
 */
import { performance } from 'node:perf_hooks';

const marks = [];
const cpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
const start = performance.now();
const wallSeconds = () => (performance.now() - start) / 1000;
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = (chunk, ...rest) => {
    const match = /^(plan|covariance|eigen|lambda|query|scores|self):/m.exec(String(chunk));
    if (match) {
      const mark = marks.find((m) => m.stage === match[1]) ?? marks[marks.push({ stage: match[1] }) - 1];
      Object.assign(mark, { cpu: cpuSeconds(), wall: wallSeconds() });
    }
    return write(chunk, ...rest);
  };
}
process.on('exit', () => {
  let previous = { cpu: 0, wall: 0 };
  const lines = marks.map((mark) => {
    const cpu = (mark.cpu - previous.cpu).toFixed(1);
    const wall = (mark.wall - previous.wall).toFixed(1);
    previous = mark;
    return `${mark.stage.padEnd(11)} until its line: ${cpu} s CPU, ${wall} s wall`;
  });
  lines.push(`total       ${cpuSeconds().toFixed(1)} s CPU, ${wallSeconds().toFixed(1)} s wall`);
  process.stderr.write(`stage CPU (scripts/stage-cpu.mjs):\n  ${lines.join('\n  ')}\n`);
});
