import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BACKENDS, fixture, runNode } from './helpers.js';

/** Run a fixture script as a child process (see runNode). */
const runScript = (name: string, args: string[], env: NodeJS.ProcessEnv = process.env, limitMs = 30_000) => runNode([fixture(name), ...args], { env, limitMs });

const test = suite('process lifecycle');

for (const backend of BACKENDS) {
  test(`a script that never calls close() still exits on its own (${backend})`, async () => {
    const result = await runScript('noClose', [backend]);
    assert.not.ok(result.killed, `the script hung: its ${backend} pool kept the process alive`);
    assert.is(result.code, 0, result.stderr);
    assert.is(result.stdout.trim(), '[2,3,4,40]');
  });
}

for (const backend of ['threads', 'processes']) {
  test(`a Parallel never run nor closed: the workers it started at once (prestart) do not keep the process alive (${backend})`, async () => {
    const result = await runScript('prestartNoRun', [backend]);
    assert.not.ok(result.killed, `the script hung: its prestarted ${backend} kept the process alive`);
    assert.is(result.code, 0, result.stderr);
    assert.is(result.stdout.trim(), '2');
  });
}

test('threads and processes work from `node --input-type=module -e` (a child does not rerun the parent\'s code; a thread is not given --input-type)', async () => {
  const index = fileURLToPath(new URL('../src/index.js', import.meta.url));
  const code = [
    `const { Parallel, delayed } = await import(${JSON.stringify(index)});`,
    'const out = [];',
    "for (const backend of ['processes', 'threads']) {",
    '  const p = new Parallel({ backend, nJobs: 1 });',
    '  out.push(...(await p.run([delayed((x) => x * 2)(21)])));',
    '  await p.close();',
    '}',
    'console.log(JSON.stringify(out));',
  ].join('\n');
  const result = await runNode(['--input-type=module', '-e', code]);
  assert.is(result.code, 0, result.stderr);
  assert.is(result.stdout.trim(), '[42,42]');
});

test('JOBLET_SERIALIZER chooses the process-wide default serializer', async () => {
  const withEnv = await runScript('defaultSerializer', [], { ...process.env, JOBLET_SERIALIZER: 'devalue' });
  assert.is(withEnv.code, 0, withEnv.stderr);
  assert.equal(JSON.parse(withEnv.stdout), { default: 'devalue', parallel: 'devalue' });
  const env = { ...process.env };
  delete env.JOBLET_SERIALIZER;
  const without = await runScript('defaultSerializer', [], env);
  assert.equal(JSON.parse(without.stdout), { default: 'auto', parallel: 'auto' });
  const unknown = await runScript('defaultSerializer', [], { ...process.env, JOBLET_SERIALIZER: 'nope' });
  assert.is.not(unknown.code, 0);
  assert.match(unknown.stderr, "JOBLET_SERIALIZER names an unknown serializer 'nope'");
  assert.match(unknown.stderr, 'structured, json, devalue, javascript, closure, auto');
});

test.run();
