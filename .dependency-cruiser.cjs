/**
 * The layer rules of joblet (ARCHITECTURE.md), checked by `npm test` before the unit tests:
 * a new import loop or an arrow pointing the wrong way fails the run.
 *
 *   values <- source <- serialize (core) <- closure <- serialize/builtins <- sharing
 *          <- runtime <- backends <- parallel <- index.ts, cli.ts
 *
 * Every layer may use values, serialize, closure and sharing; the worker's world (runtime)
 * never reaches back into the main thread's (parallel, backends). Type-only imports count.
 */
const LAYERS_ABOVE = {
  values: '^src/(?!values/)',
  source: '^src/(?!(values|source)/)',
  closure: '^src/(sharing|parallel|backends|runtime|compare|cli|index)',
  sharing: '^src/(parallel|backends|runtime|compare|cli|index)',
  runtime: '^src/(parallel|backends|compare|cli|index)',
  backends: '^src/(parallel|compare|cli|index)',
};

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import loop makes two modules one: neither can be read, tested or moved alone.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'values-is-a-leaf',
      comment: 'values/ (kinds, the graph walk, paths, what cannot be sent, the by-reference protocol) imports nothing of joblet: everyone may use it.',
      severity: 'error',
      from: { path: '^src/values/' },
      to: { path: LAYERS_ABOVE.values },
    },
    {
      name: 'source-reads-values-only',
      comment: "source/ (a function's source, its free variables, compiling it back) sits just above values/.",
      severity: 'error',
      from: { path: '^src/source/' },
      to: { path: LAYERS_ABOVE.source },
    },
    {
      name: 'serialize-core-knows-no-codec',
      comment: 'The serializer core (registry, types, payload helpers, wrap) can be used alone: it never imports the closure codec, sharing or the run. Built-in serializers live in serialize/builtins/.',
      severity: 'error',
      from: { path: '^src/serialize/', pathNot: '^src/serialize/builtins/' },
      to: { path: '^src/(closure|sharing|parallel|backends|runtime|compare|cli|index)' },
    },
    {
      name: 'closure-below-sharing',
      comment: 'The closure codec meets by-reference values through values/byReference.ts, never by name.',
      severity: 'error',
      from: { path: '^src/closure/' },
      to: { path: LAYERS_ABOVE.closure },
    },
    {
      name: 'sharing-below-the-run',
      comment: 'persist, shared arrays and Counter are values: they know nothing of runs, backends or workers.',
      severity: 'error',
      from: { path: '^src/sharing/' },
      to: { path: LAYERS_ABOVE.sharing },
    },
    {
      name: 'runtime-is-the-workers-world',
      comment: "runtime/ is all a worker loads: it never imports the main thread's run or its backends (piscina's worker.ts).",
      severity: 'error',
      from: { path: '^src/runtime/' },
      to: { path: LAYERS_ABOVE.runtime },
    },
    {
      name: 'backends-below-the-run',
      comment: 'parallel -> backends, never back: the orchestrator drives a backend through its interface.',
      severity: 'error',
      from: { path: '^src/backends/' },
      to: { path: LAYERS_ABOVE.backends },
    },
    {
      name: 'errors-is-a-leaf',
      comment: 'One error family every layer throws: it imports nothing of joblet but values/.',
      severity: 'error',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/(?!values/)' },
    },
    {
      name: 'src-never-imports-tests-benches-examples',
      comment: 'The library ships alone: nothing under src/ reaches into test/, bench/ or examples/.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|examples)/' },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that resolves to nothing fails at run time in a worker: say so at test time.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
