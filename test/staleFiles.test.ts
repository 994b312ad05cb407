/**
 * Nothing left behind whatever the death (issue 16, item 6): the folder of a joblet process
 * that died without cleaning up (SIGKILL) is removed by the next joblet process's first
 * persisted file; a live process's folder, and a file a dead worker transferred to a live
 * main process, are never removed. Real child processes, a real SIGKILL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fixture, tempDir } from './helpers.js';
import { sweepStaleFolders } from '../src/sharing/tempFiles.js';

const script = fixture('staleFiles');

/** Starts the fixture in `mode`; `line(prefix)` resolves with the rest of the first stdout line that starts with it. */
function start(dir: string, mode: string) {
  const child = spawn(process.execPath, [script, mode], { env: { ...process.env, JOBLET_TEMP_DIR: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const found = stdout.split('\n').find((l) => l.startsWith(`${prefix} `));
        if (found) return resolve(found.slice(prefix.length + 1)), true;
        return false;
      };
      child.stdout!.on('data', (c) => {
        stdout += c;
        look();
      });
      exited.then((code) => look() || reject(new Error(`the ${mode} process exited (${code}) before printing '${prefix}': ${stderr}`)));
    });
  return { child, line, exited, stderr: () => stderr };
}

const kill = async (child: ChildProcess, exited: Promise<unknown>) => {
  child.kill('SIGKILL');
  await exited;
};

const stale = suite('stale temporary folders are swept');

stale("a SIGKILLed process's file is removed by the next process's first persist; a live process's is not", async () => {
  const dir = tempDir();
  const live = start(dir.path, 'hold');
  try {
    const liveFile = await live.line('file');
    const killed = start(dir.path, 'hold');
    const killedFile = await killed.line('file');
    await kill(killed.child, killed.exited);
    assert.ok(existsSync(killedFile), 'a SIGKILLed process leaves its file (no exit handler ran)');

    const next = start(dir.path, 'once');
    assert.is(await next.exited, 0, next.stderr());
    assert.not.ok(existsSync(dirname(killedFile)), "the dead process's folder was swept");
    assert.ok(existsSync(liveFile), "the live process's file is kept");
    assert.equal(readdirSync(dir.path), [liveFile.split('/').at(-2)], 'only the live folder remains');
  } finally {
    await kill(live.child, live.exited);
    dir.remove();
  }
});

stale('a file a worker process transferred to the main process survives the worker and a sweep', async () => {
  const dir = tempDir();
  const main = start(dir.path, 'transfer');
  try {
    const file = await main.line('handed');
    assert.ok(existsSync(file));
    const sweeper = start(dir.path, 'once');
    assert.is(await sweeper.exited, 0, sweeper.stderr());
    assert.ok(existsSync(file), 'kept: its holder (the main process) is alive');
    main.child.stdin!.write('go\n');
    assert.is(await main.line('value'), JSON.stringify({ rows: [4, 5, 6] }));
    assert.is(await main.exited, 0, main.stderr());
    assert.equal(readdirSync(dir.path), [], 'nothing left once the main process closed it and exited');
  } finally {
    main.child.kill('SIGKILL');
    dir.remove();
  }
});

const linux = existsSync('/proc/self/stat');
stale('a live pid with another start time does not keep a folder (pid reuse), the right start time does', () => {
  if (!linux) return; // elsewhere a reused pid keeps the folder until that process ends (documented)
  const dir = tempDir();
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const reused = join(dir.path, `joblet-${process.pid}-${start + 1}-abcdef`);
    const mine = join(dir.path, `joblet-${process.pid}-${start}-abcdef`);
    const other = join(dir.path, 'joblet-not-ours');
    for (const folder of [reused, mine, other]) mkdirSync(folder);
    sweepStaleFolders(dir.path);
    assert.not.ok(existsSync(reused), 'same pid, another start time: its owner is gone');
    assert.ok(existsSync(mine), 'this process is alive');
    assert.ok(existsSync(other), 'a folder not in the naming is never touched');
  } finally {
    dir.remove();
  }
});

stale.run();
