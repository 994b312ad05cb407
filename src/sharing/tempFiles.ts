import { mkdtempSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Temporary files this thread owns, and their folders: removed when it exits, whatever the
 * reason. Only owned files go: a file transferred to the main thread outlives the worker
 * that wrote it.
 */
const ownedFiles = new Set<string>();
const folders = new Set<string>();
let folder: string | undefined;
let cleanupRegistered = false;

function cleanUpAtExit(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.once('exit', () => {
    for (const file of ownedFiles) rmSync(file, { force: true });
    for (const dir of folders) {
      try {
        rmdirSync(dir); // only when empty: another thread may still own a file in it
      } catch {
        /* not empty, or gone */
      }
    }
  });
}

/** A path for `name` in this thread's temporary folder (JOBLET_TEMP_DIR, else the system's), made on first use. */
export function tempPath(name: string): string {
  if (!folder) {
    folder = mkdtempSync(join(process.env.JOBLET_TEMP_DIR || tmpdir(), 'joblet-'));
    folders.add(folder);
    cleanUpAtExit();
  }
  return join(folder, name);
}

/** This thread owns `file`: it is removed when the thread exits, unless disowned first. */
export function own(file: string): void {
  ownedFiles.add(file);
  folders.add(dirname(file));
  cleanUpAtExit();
}

/** Ownership passes on (to the receiver of a transferred handle): leave the file when this thread exits. */
export function disown(file: string): void {
  ownedFiles.delete(file);
}

/** Remove an owned file now; a transferred file's folder (another thread's) goes once empty. */
export function removeFile(file: string): void {
  ownedFiles.delete(file);
  try {
    unlinkSync(file);
    if (dirname(file) !== folder) rmdirSync(dirname(file));
  } catch {
    /* already gone, or the folder holds other files */
  }
}
