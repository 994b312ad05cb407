import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BACKENDS = ['threads', 'processes', 'inline'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** uvu's assert.throws does not await: this does, and fails when nothing is thrown. */
export async function rejects(promise: Promise<unknown> | (() => Promise<unknown>), check: (error: any) => void): Promise<void> {
  let caught: unknown;
  let threw = false;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    threw = true;
    caught = error;
  }
  assert.ok(threw, 'expected a rejection, got a result');
  check(caught);
}

/** A fresh folder under the system's temporary folder; remove it with the returned function. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'joblet-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
