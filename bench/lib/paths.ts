/** Where the benchmarks find things: the results folder, the worker fixtures, installed versions; and whether a file was run as the entry. */
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** bench/results/ in the source tree (this file runs from dist/bench/lib/). */
export const RESULTS = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

/** The compiled worker fixtures (dist/bench/lib/workers/). */
export const WORKERS = new URL('./workers/', import.meta.url);

export const version = (name: string) =>
  (JSON.parse(readFileSync(new URL(`../../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

/** True when the module at `url` is the file node was asked to run (`node dist/bench/dispatch/latency.js`), not an import. */
export const isEntry = (url: string) => process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href;
