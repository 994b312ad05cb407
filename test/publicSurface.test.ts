/**
 * The published declarations (dist/src, emitted by `npm run build`) show users only what they
 * need. Nothing is built here: the checks read the emitted .d.ts files, as a user's editor does.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { listBackends, listSerializers } from 'joblet';

const root = fileURLToPath(new URL('../../', import.meta.url));
const published = join(root, 'dist/src');

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return declarationFiles(path);
    return entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * Every member a user can reach on the public classes. A list of what is allowed, not of what is
 * forbidden: an internal member that is renamed, or a new one left unmarked, fails here too.
 */
const PUBLIC_MEMBERS: Record<string, string[]> = {
  Parallel: ['nJobs', 'backendName', 'serializerName', 'returnAs', 'constructor', 'run', 'map', 'stats', 'resetStats', 'close', '[Symbol.asyncDispose]'],
  PersistedModel: ['id', 'method', 'get', 'close', 'transfer', 'closed'],
  Counter: ['id', 'printEvery', 'message', 'constructor', 'increment', 'value', 'toJSON'],
};

/** Names of the members a user can call or read: `#private` and `private`/`protected` ones left out. */
function userMembers(node: ts.ClassDeclaration, file: ts.SourceFile): string[] {
  const hidden = ts.ModifierFlags.Private | ts.ModifierFlags.Protected;
  return node.members.flatMap((member) => {
    if (member.name && ts.isPrivateIdentifier(member.name)) return [];
    if (ts.getCombinedModifierFlags(member as ts.Declaration) & hidden) return [];
    const name = ts.isConstructorDeclaration(member) ? 'constructor' : member.name!.getText(file);
    return [ts.getCombinedModifierFlags(member as ts.Declaration) & ts.ModifierFlags.Static ? `static ${name}` : name];
  });
}

const test = suite('the published declarations');

test('no declaration under dist/src carries @internal, and the public classes show only their public members', () => {
  const files = declarationFiles(published);
  assert.ok(files.includes(join(published, 'index.d.ts')), 'dist/src/index.d.ts is missing: run `npm run build`');
  const marked = files.filter((path) => readFileSync(path, 'utf8').includes('@internal'));
  assert.equal(marked.map((path) => relative(published, path)), [], 'these declarations still show members marked @internal (is stripInternal on?)');

  const found: Record<string, string[]> = {};
  for (const path of files) {
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
    for (const statement of file.statements) {
      if (ts.isClassDeclaration(statement) && statement.name && Object.hasOwn(PUBLIC_MEMBERS, statement.name.text)) {
        assert.not.ok(found[statement.name.text], `class ${statement.name.text} is declared twice`);
        found[statement.name.text] = userMembers(statement, file);
      }
    }
  }
  for (const [name, allowed] of Object.entries(PUBLIC_MEMBERS)) {
    const members = found[name];
    assert.ok(members, `class ${name} is not declared in dist/src`);
    const extra = members.filter((member) => !allowed.includes(member));
    assert.equal(extra, [], `${name} shows members that are not public API: mark them @internal, or add them to PUBLIC_MEMBERS if users need them`);
    const missing = allowed.filter((member) => !members.includes(member));
    assert.equal(missing, [], `${name} lost public members`);
  }
});

/** A TypeScript language service over one consumer file beside dist/src: what an editor sees. */
function consumer(source: string) {
  const file = join(root, 'dist/test/consumer.ts'); // never written: the service reads it from `source`
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    types: ['node'],
    // Checked, so that a stripped declaration another one still names is an error here.
    skipLibCheck: false,
  };
  const read = (name: string) => (name === file ? source : ts.sys.readFile(name));
  const service = ts.createLanguageService({
    getCompilationSettings: () => options,
    getScriptFileNames: () => [file],
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => {
      const text = read(name);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => root,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (name) => name === file || ts.sys.fileExists(name),
    readFile: read,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  });
  const completionsAfter = (marker: string) => {
    const at = source.indexOf(marker);
    assert.ok(at >= 0, `marker ${marker} not in the consumer source`);
    const names = service.getCompletionsAtPosition(file, at + marker.length, {})?.entries.map((entry) => entry.name) ?? [];
    return names;
  };
  const describe = (d: ts.Diagnostic) => `${d.file ? `${relative(root, d.file.fileName)}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  const diagnostics = () => [...service.getSyntacticDiagnostics(file), ...service.getSemanticDiagnostics(file)].map(describe);
  /** Errors inside the published declarations themselves (only those: @types/node is not ours to check). */
  const publishedDiagnostics = () => {
    const program = service.getProgram()!;
    const ours = program.getSourceFiles().filter((source) => source.fileName.startsWith(`${published}/`));
    assert.ok(ours.length > 10, `the consumer loaded ${ours.length} declaration files from dist/src`);
    return ours.flatMap((source) => [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]).map(describe);
  };
  return { completionsAfter, diagnostics, publishedDiagnostics, dispose: () => service.dispose() };
}

const CONSUMER = `
import { Parallel, Counter, persist, registerBackend, getSerializer, setDefaultSerializer, type BackendName, type SerializerName } from '../src/index.js';

const fromUser: string = String(process.env.NAME);
const plain = new Parallel({ backend: fromUser, serializer: fromUser });
const named = new Parallel({ backend: 'threads', serializer: 'auto' });
const backend: BackendName = fromUser;
const serializer: SerializerName = fromUser;
registerBackend(fromUser, () => { throw new Error('unused'); });
getSerializer(fromUser);
setDefaultSerializer(serializer);
void [plain, named, backend];

const counter = new Counter();
counter.increment();
const model = persist([1, 2]);
model.get();
// @ts-expect-error: internal
counter.state(true);
// @ts-expect-error: internal
Counter.applyRemote('k1', 1);
// @ts-expect-error: internal
Counter.received;
// @ts-expect-error: internal
model.payload(true);
// @ts-expect-error: internal
model.writeFile();
// @ts-expect-error: internal
model.transfers;
`;

test('an editor importing the published index completes the built-in backend and serializer names, accepts any string, and sees no internals', () => {
  const view = consumer(CONSUMER);
  try {
    // An unused @ts-expect-error (an internal member that is visible) is a diagnostic too.
    assert.equal(view.diagnostics(), []);
    assert.equal(view.publishedDiagnostics(), []);
    const backends = view.completionsAfter(`{ backend: '`);
    for (const name of ['threads', 'processes', 'inline']) assert.ok(backends.includes(name), `backend '${name}' is not offered: ${backends}`);
    const serializers = view.completionsAfter(`serializer: '`);
    for (const name of ['auto', 'structured', 'json', 'devalue', 'javascript', 'closure']) {
      assert.ok(serializers.includes(name), `serializer '${name}' is not offered: ${serializers}`);
    }
    // The names offered are the ones registered at import.
    for (const name of backends) assert.ok(listBackends().includes(name), `'${name}' is offered but not a registered backend`);
    for (const name of serializers) assert.ok(listSerializers().includes(name), `'${name}' is offered but not a registered serializer`);

    const onCounter = view.completionsAfter('counter.');
    assert.ok(onCounter.includes('increment'), `completions on a Counter: ${onCounter}`);
    for (const name of ['state', 'received', 'applyRemote']) assert.not.ok(onCounter.includes(name), `Counter offers ${name}`);
    const onModel = view.completionsAfter('model.');
    assert.ok(onModel.includes('get'), `completions on a PersistedModel: ${onModel}`);
    for (const name of ['payload', 'writeFile', 'transfers', 'needsCodec']) assert.not.ok(onModel.includes(name), `PersistedModel offers ${name}`);
  } finally {
    view.dispose();
  }
});

test.run();
