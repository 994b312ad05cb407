/**
 * One ordinary TypeScript module (fixture/app.ts) as users ship it: compiled
 * by tsc to ES2022 ESM, ES2020 CommonJS and ES5 CommonJS, by esbuild to ESM
 * and to minified CommonJS, and loaded untranspiled through tsx. The same
 * eleven cases run against each build, so a difference between builds is the
 * compiler's output meeting the closure codec, not the program.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import * as esbuild from 'esbuild';
import type { Case, SourceKind } from '../case.js';
import type * as App from '../fixture/app.js';

/** The fixture's TypeScript source, in the repository (the tests run from dist/). */
export const APP_SOURCE = fileURLToPath(new URL('../../../../test/realworld/fixture/app.ts', import.meta.url));

const require = createRequire(import.meta.url);

function tsc(source: string, target: ts.ScriptTarget, module: ts.ModuleKind): string {
  return ts.transpileModule(source, { compilerOptions: { target, module, esModuleInterop: true }, fileName: 'app.ts' }).outputText;
}

/** Compiles and loads every build of the fixture into `dir` (removed by the caller). */
export async function loadBuilds(dir: string): Promise<Array<[SourceKind, typeof App]>> {
  const source = (await import('node:fs')).readFileSync(APP_SOURCE, 'utf8');
  const write = (file: string, text: string) => {
    const path = join(dir, file);
    writeFileSync(path, text);
    return path;
  };
  const esm = async (file: string, text: string) => (await import(pathToFileURL(write(file, text)).href)) as typeof App;
  const cjs = (file: string, text: string) => require(write(file, text)) as typeof App;
  const builds: Array<[SourceKind, typeof App]> = [
    ['tsc-es2022', await esm('app.tsc-es2022.mjs', tsc(source, ts.ScriptTarget.ES2022, ts.ModuleKind.ESNext))],
    ['tsc-cjs', cjs('app.tsc-es2020.cjs', tsc(source, ts.ScriptTarget.ES2020, ts.ModuleKind.CommonJS))],
    ['tsc-es5', cjs('app.tsc-es5.cjs', tsc(source, ts.ScriptTarget.ES5, ts.ModuleKind.CommonJS))],
    ['esbuild-esm', await esm('app.esbuild.mjs', esbuild.transformSync(source, { loader: 'ts', format: 'esm', target: 'es2022' }).code)],
    ['esbuild-cjs-min', cjs('app.esbuild.min.cjs', esbuild.transformSync(source, { loader: 'ts', format: 'cjs', target: 'es2020', minify: true }).code)],
  ];
  // tsx compiles on load: the file stays TypeScript on disk, as under `tsx app.ts`.
  const tsFile = join(dir, 'app.ts');
  copyFileSync(APP_SOURCE, tsFile);
  const { tsImport } = await import('tsx/esm/api');
  builds.push(['tsx', (await tsImport(pathToFileURL(tsFile).href, import.meta.url)) as typeof App]);
  return builds;
}

/** The same cases over each build. */
export function casesOf(source: SourceKind, m: typeof App): Case[] {
  const { Circle, Square, Shape, Tally } = m;
  const registry = Shape.registry;
  const square = new Square(3);
  const tally = Tally.of([1, 2, 3]);
  const c = (name: string, rest: Omit<Case, 'name' | 'source'>): Case => ({ name: `${source}: ${name}`, source, ...rest });
  return [
    c('function over module consts', { fn: m.label, args: [4] }),
    c('static registry Map of subclasses', { fn: m.areaOf, args: ['square', 3] }),
    c('class with #private fields, getters, static', { fn: m.tallyStats, args: [[2, 4, 9]] }),
    c('memoized function', { fn: m.fib, args: [40] }),
    c('async function', { fn: m.totalLater, args: [[1, 2, 3]] }),
    c('generator', { fn: m.range, args: [4], drain: true }),
    c('captured subclass, instanceof its base', { fn: (r: number) => { const circle = new Circle(r); return [circle.describe(), circle instanceof Shape, circle.kind]; }, args: [2] }),
    c('captured instance with inherited getters and super', { fn: () => [square.area, square.describe(), square instanceof Shape] }),
    c('captured registry Map used as a factory', { fn: (name: string) => new (registry.get(name)!)(2).describe(), args: ['circle'] }),
    c('captured instance with #private fields', { fn: () => [tally.total, tally.mean] }),
    c('two closures over one let, from the module', {
      fresh: () => {
        const counter = m.makeCounter();
        return () => {
          counter.inc();
          counter.inc();
          return counter.get();
        };
      },
    }),
  ];
}
