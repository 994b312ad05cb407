/**
 * The suite's case groups, each loadable alone (the probe child loads only
 * the group of the case it times). Compiled fixtures are written into `dir`,
 * which the caller creates and removes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Group } from './harness.js';

export const GROUP_NAMES = ['compiled', 'packages', 'mathjs', 'handwritten'] as const;
export type GroupName = (typeof GROUP_NAMES)[number];

export async function loadGroup(name: GroupName, dir: string): Promise<Group> {
  switch (name) {
    case 'compiled': {
      const { loadBuilds, casesOf } = await import('./cases/compiled.js');
      return { name, cases: (await loadBuilds(dir)).flatMap(([source, m]) => casesOf(source, m)) };
    }
    case 'packages':
      return { name, cases: (await import('./cases/packages.js')).packageCases() };
    case 'mathjs':
      return { name, cases: (await import('./cases/mathjs.js')).mathjsCases() };
    case 'handwritten':
      return { name, cases: await (await import('./cases/handwritten.js')).handwrittenCases() };
  }
}

/** Loads every group into a fresh temp folder; `remove` deletes it (call it in `finally`). */
export async function loadAll(): Promise<{ groups: Group[]; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'joblet-realworld-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const groups: Group[] = [];
    for (const name of GROUP_NAMES) groups.push(await loadGroup(name, dir));
    return { groups, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
