// Runs the uvu suite over the compiled tests, streams its report, and ends with the
// plain closing line 'N passed, N failed' that CI tools read. Exits non-zero on any failure.
import { spawn } from 'node:child_process';

// uvu's exports map hides bin.js from require.resolve; it sits at a fixed place in node_modules.
const uvu = new URL('../node_modules/uvu/bin.js', import.meta.url).pathname;
// uvu colours its report unless told not to (it sets FORCE_COLOR itself): plain text into a pipe or a log.
const color = process.stdout.isTTY ? [] : ['--no-color'];
const child = spawn(process.execPath, [uvu, 'dist/test', '\\.test\\.js$', ...color], { stdio: ['ignore', 'pipe', 'inherit'] });
let output = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  output += chunk;
});
child.on('exit', (code, signal) => {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  console.log(`\n${passed} passed, ${total - passed} failed`);
  process.exit(code === 0 && total > 0 && passed === total ? 0 : code || 1);
});
