/**
 * The package as a user gets it: `npm pack` of this build, installed into a
 * fresh folder, and the README's Quick start run from there as an ES module
 * and as a CommonJS script (`require('joblet')`), on threads and processes.
 * What the tarball holds is checked too: the library, README, LICENSE, and
 * nothing that points at files it does not ship.
 */
import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runNode, tempDir } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// npm reads its settings from the environment; these keep it quiet and off the network where it can.
const npmEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_prefer_offline: 'true' };

const QUICK_START_ESM = `
import { Parallel, delayed } from 'joblet';
const square = (x) => x * x;
for (const backend of ['threads', 'processes']) {
  const parallel = new Parallel({ nJobs: 2, backend });
  try {
    console.log(backend, JSON.stringify(await parallel.run([1, 2, 3].map((x) => delayed(square)(x)))));
  } finally {
    await parallel.close();
  }
}
`;

const QUICK_START_CJS = `
const { Parallel, delayed } = require('joblet');
const offset = 10;
const shift = (x) => x + offset;
(async () => {
  for (const backend of ['threads', 'processes']) {
    const parallel = new Parallel({ nJobs: 2, backend });
    try {
      console.log(backend, JSON.stringify(await parallel.map(shift, [1, 2, 3])));
    } finally {
      await parallel.close();
    }
  }
})();
`;

const pack = suite('the packed package');

pack('installs into a fresh folder and runs the Quick start as ESM and as CommonJS, on threads and processes', async () => {
  const folder = tempDir();
  try {
    const packed = await run(npm, ['pack', '--json', '--pack-destination', folder.path], { cwd: root, env: npmEnv, maxBuffer: 16 << 20 });
    const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((file) => file.path);
    for (const needed of ['README.md', 'LICENSE', 'package.json', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/runtime/threadWorker.js', 'dist/src/runtime/processWorker.js']) {
      assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
    }
    const stray = files.filter((file) => !/^(README\.md|LICENSE|package\.json|dist\/src\/.*\.(js|d\.ts))$/.test(file));
    assert.equal(stray, [], 'the tarball holds only the library, README, LICENSE and package.json');

    const app = join(folder.path, 'app');
    writeFileSync(join(folder.path, 'package.json'), JSON.stringify({ name: 'joblet-user', version: '1.0.0', private: true }));
    await run(npm, ['install', join(folder.path, info.filename)], { cwd: folder.path, env: npmEnv, maxBuffer: 16 << 20 });
    assert.ok(readdirSync(join(folder.path, 'node_modules')).includes('joblet'));

    writeFileSync(`${app}.mjs`, QUICK_START_ESM);
    writeFileSync(`${app}.cjs`, QUICK_START_CJS);
    const esm = await runNode([`${app}.mjs`], { cwd: folder.path, limitMs: 60_000 });
    assert.is(esm.code, 0, esm.stderr);
    assert.is(esm.stdout, 'threads [1,4,9]\nprocesses [1,4,9]\n');
    const cjs = await runNode([`${app}.cjs`], { cwd: folder.path, limitMs: 60_000 });
    assert.is(cjs.code, 0, cjs.stderr);
    assert.is(cjs.stdout, 'threads [11,12,13]\nprocesses [11,12,13]\n');
    // No ExperimentalWarning or anything else on stderr: require(esm) is quiet on the Node versions joblet supports.
    assert.is(cjs.stderr, '');
  } finally {
    folder.remove();
  }
});

pack.run();
