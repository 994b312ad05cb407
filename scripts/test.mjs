// Runs the uvu suite over the compiled tests, streams its report, and ends with the
// plain closing line 'N passed, N failed' that CI tools read. Exits non-zero on any failure.
import { spawn } from 'node:child_process';

// uvu's exports map hides bin.js from require.resolve; it sits at a fixed place in node_modules.
const uvu = new URL('../node_modules/uvu/bin.js', import.meta.url).pathname;
// uvu colours its report unless told not to (it sets FORCE_COLOR itself): plain text into a pipe or a log.
const color = process.stdout.isTTY ? [] : ['--no-color'];
const child = spawn(process.execPath, [uvu, 'dist/test', '\\.test\\.js$', ...color], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
// uvu has no per-test timeout: a test waiting for an event that never comes would hold CI for
// its whole budget. Past this the run is stopped (uvu and every process it started) and fails,
// naming the file it was in. The suite takes a few minutes; this is a hang detector, not a bound.
const SUITE_LIMIT_MS = Number(process.env.JOBLET_SUITE_LIMIT_MS ?? 30 * 60_000);
const watchdog = setTimeout(() => {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const file = [...plain.matchAll(/^(\S+\.test\.js)$/gm)].pop()?.[1] ?? 'an unknown file';
  console.error(`\nThe suite did not finish within ${SUITE_LIMIT_MS / 60_000} min: stopped while in ${file} (a test waits for something that never happens).`);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {}
}, SUITE_LIMIT_MS);
watchdog.unref();
// uvu leads its own process group (so the watchdog can stop all of it): pass Ctrl-C on.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {
  try {
    process.kill(-child.pid, signal);
  } catch {}
});
let output = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  output += chunk;
});
child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  console.log(`\n${passed} passed, ${total - passed} failed`);
  process.exit(code === 0 && total > 0 && passed === total ? 0 : code || 1);
});
