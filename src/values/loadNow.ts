/**
 * Loading one of joblet's own ES modules synchronously, the first time a realm needs it (a
 * worker: runtime/onDemand.ts says what and why). require() does it on Node 20.19+, with the
 * instance import() gives. A realm that has the module loaded already hands it over
 * (`provideLoaded`: the main thread, serialize/builtins/index.ts). Where require() of ES modules
 * is turned off (--no-experimental-require-module), a realm imports them ahead instead
 * (`importAhead`), and whoever is about to need them waits for `aheadLoading()`.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
/** Modules handed over or imported ahead, by URL. */
const loaded = new Map<string, unknown>();
let loading: Promise<unknown> | undefined;

/** The module at `url` (a file URL of joblet's), loaded now if it was not. */
export function loadNow<T>(url: URL): T {
  const module = loaded.get(url.href);
  if (module) return module as T;
  if (!process.features.require_module) {
    throw new Error(`joblet: ${fileURLToPath(url)} was not imported ahead, and require() of ES modules is turned off (--no-experimental-require-module) in this realm`);
  }
  return require(fileURLToPath(url)) as T;
}

/** `module` is the module at `url`, loaded in this realm already. */
export function provideLoaded(url: URL, module: unknown): void {
  loaded.set(url.href, module);
}

/** Where require() cannot load ES modules, import `urls` now, for `loadNow` (see `aheadLoading`). Nothing otherwise. */
export function importAhead(urls: readonly URL[]): void {
  if (!process.features.require_module) importInBackground(urls);
}

/**
 * Import `urls` now, in the background, whatever require() can do: a worker that said 'ready' loads
 * what its first batch would otherwise load on the spot. Whoever needs them meanwhile waits for
 * `aheadLoading()` (require() cannot load a module an import() is still loading).
 */
export function importInBackground(urls: readonly URL[]): void {
  const imports = Promise.all([loading, ...urls.map(async (url) => void loaded.set(url.href, await import(url.href)))]);
  loading = imports;
  void imports.finally(() => {
    if (loading === imports) loading = undefined;
  });
}

/** The imports `importAhead` started, while they run: settles when `loadNow` can hand them out. */
export function aheadLoading(): Promise<unknown> | undefined {
  return loading;
}
