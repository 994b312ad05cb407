import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

/**
 * Temporary files this thread owns, and their folders: removed when it exits, whatever the
 * reason. Only owned files go: a file transferred to the main thread outlives the worker
 * that wrote it.
 *
 * A process that dies without running its exit handlers (SIGKILL, out of memory) cannot clean
 * up, so every folder names the processes that hold it, as loky's resource tracker does: its
 * creator in its name (`joblet-<pid>-<start>-XXXXXX`) and, as empty `.held-<pid>-<start>`
 * marker files, the parent of a child-process worker (the main process its results go to) and
 * any process that took ownership of a file in it. The first time a thread of a later joblet
 * process needs a folder, it removes every folder none of whose holders is alive. `<start>` is
 * the process's start time (Linux: field 22 of /proc/<pid>/stat), so a pid reused by another
 * process does not keep a dead one's folder; where it cannot be read (0), a live process with the
 * same pid keeps the folder until it ends. Only folders in this naming are ever swept.
 */
const ownedFiles = new Set<string>();
const folders = new Set<string>();
let folder: string | undefined;
let cleanupRegistered = false;
let swept = false;

const FOLDER = /^joblet-(\d+)-(\d+)-/;
const MARKER = /^\.held-(\d+)-(\d+)$/;

/** A process's start time in clock ticks since boot, or 0 where it cannot be read (not Linux, gone). */
function startTime(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 22; the command name (field 2) is parenthesised and may hold spaces or parentheses.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) || 0;
  } catch {
    return 0;
  }
}

const self = `${process.pid}-${startTime('self')}`;
const marker = (holder: string) => `.held-${holder}`;

/** Is the process named by (pid, start) alive? Unsure counts as alive: a folder is removed only when its holders are surely gone. */
function alive(pid: number, start: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  const now = startTime(pid);
  return start === 0 || now === 0 || now === start;
}

/** The processes holding a folder: its creator, then its markers. */
function holders(path: string, name: string): Array<[number, number]> {
  const [, pid, start] = FOLDER.exec(name)!;
  const found: Array<[number, number]> = [[Number(pid), Number(start)]];
  for (const entry of readdirSync(path)) {
    const held = MARKER.exec(entry);
    if (held) found.push([Number(held[1]), Number(held[2])]);
  }
  return found;
}

/** Remove the folders, under `root`, of joblet processes that died without cleaning up. Never throws. */
export function sweepStaleFolders(root: string = tempRoot()): void {
  let names: string[];
  try {
    names = readdirSync(root).filter((name) => FOLDER.test(name));
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(root, name);
    try {
      if (holders(path, name).some(([pid, start]) => alive(pid, start))) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      /* gone already, or not ours to read */
    }
  }
}

const tempRoot = () => process.env.JOBLET_TEMP_DIR || tmpdir();

/** Only markers left: nothing in the folder needs protecting. */
const onlyMarkers = (dir: string) => readdirSync(dir).every((entry) => MARKER.test(entry));

function cleanUpAtExit(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.once('exit', () => {
    for (const file of ownedFiles) rmSync(file, { force: true });
    for (const dir of folders) {
      try {
        // Another thread or process may still own a file in it: then only this holder's mark goes.
        if (onlyMarkers(dir)) rmSync(dir, { recursive: true, force: true });
        else if (dir !== folder) rmSync(join(dir, marker(self)), { force: true });
      } catch {
        /* gone */
      }
    }
  });
}

/** This thread's folder, made (again, if another process removed it once empty) with its markers. */
function ownFolder(): string {
  if (folder && existsSync(folder)) return folder;
  if (!swept) {
    swept = true;
    sweepStaleFolders();
  }
  if (folder) mkdirSync(folder, { recursive: true });
  else folder = mkdtempSync(join(tempRoot(), `joblet-${self}-`));
  // A child-process worker's results go to its parent: the folder stays while the parent lives,
  // so a file transferred to it survives this worker's death.
  if (isMainThread && process.channel) writeFileSync(join(folder, marker(`${process.ppid}-${startTime(process.ppid)}`)), '');
  folders.add(folder);
  cleanUpAtExit();
  return folder;
}

/** A path for `name` in this thread's temporary folder (JOBLET_TEMP_DIR, else the system's), made on first use. */
export function tempPath(name: string): string {
  return join(ownFolder(), name);
}

/** This thread owns `file`: it is removed when the thread exits, unless disowned first. */
export function own(file: string): void {
  ownedFiles.add(file);
  const dir = dirname(file);
  // A file in another process's folder: mark this process as a holder, so no sweep removes it while it lives.
  if (!basename(dir).startsWith(`joblet-${self}-`) && FOLDER.test(basename(dir))) {
    try {
      writeFileSync(join(dir, marker(self)), '');
    } catch {
      /* the folder is gone: the file with it */
    }
  }
  folders.add(dir);
  cleanUpAtExit();
}

/** Ownership passes on (to the receiver of a transferred handle): leave the file when this thread exits. */
export function disown(file: string): void {
  ownedFiles.delete(file);
}

/** Remove an owned file now; a transferred file's folder (another thread's) goes once it holds no file. */
export function removeFile(file: string): void {
  ownedFiles.delete(file);
  try {
    unlinkSync(file);
    const dir = dirname(file);
    if (dir !== folder && onlyMarkers(dir)) rmSync(dir, { recursive: true, force: true });
  } catch {
    /* already gone, or the folder holds other files */
  }
}
