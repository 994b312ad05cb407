/**
 * compareSerializers and `joblet compare`: real values with known losses,
 * checked in the worker that compareSerializers starts (and stops), and the
 * command run as a real child process.
 */
import net from 'node:net';
import { join as joinPath } from 'node:path';
import { persist } from 'joblet';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  compareSerializers,
  formatComparisonTable,
  listSerializers,
  registerSerializer,
  wrapNonSerializable,
  type SerializerComparison,
} from 'joblet';
import { fixture, rejects, runNode } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

const rowOf = (rows: SerializerComparison[], name: string): SerializerComparison => {
  const row = rows.find((r) => r.serializer === name);
  assert.ok(row, `no row for '${name}'`);
  return row!;
};
const textsOf = (row: SerializerComparison): string[] => {
  assert.ok(row.fidelity, `'${row.serializer}' has no fidelity list: ${row.fidelityError ?? JSON.stringify(row.error)}`);
  return row.fidelity!.map((d) => d.text);
};

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

const runInRoot = (args: string[]) => runNode(args, { cwd: root });

const data = () => ({
  when: new Date('2024-02-29T12:30:00.000Z'),
  tags: new Map([['a', 1]]),
  opts: { flag: undefined, retries: 3 },
  point: new Point(3, 4),
});

const values = suite('compareSerializers on data');

values('by default it compares every registered serializer, in the registry order', async () => {
  const rows = await compareSerializers({ n: 1 }, { repeat: 1 });
  assert.equal(
    rows.map((r) => r.serializer),
    listSerializers(),
  );
});

values('json: a Date becomes a string, a Map becomes {}, an undefined property is dropped', async () => {
  const [json] = await compareSerializers(data(), { serializers: ['json'] });
  assert.ok(json!.ok);
  assert.equal(textsOf(json!), [
    '.when: Date became string',
    '.tags: Map became {}',
    '.opts.flag: undefined dropped',
    '.point: prototype Point lost (plain object)',
  ]);
  assert.equal(json!.fidelity![0]!.path, '.when');
  assert.equal(json!.fidelity![0]!.change, 'Date became string');
});

values('structured: a class instance loses its prototype; closure and auto lose nothing', async () => {
  const rows = await compareSerializers(data(), { serializers: ['structured', 'closure', 'auto'] });
  assert.equal(textsOf(rowOf(rows, 'structured')), ['.point: prototype Point lost (plain object)']);
  assert.equal(textsOf(rowOf(rows, 'closure')), []);
  assert.equal(textsOf(rowOf(rows, 'auto')), []);
});

values('every row that carries the value has a size and times', async () => {
  const rows = await compareSerializers(data(), { serializers: ['structured', 'json', 'javascript', 'closure', 'auto'], repeat: 3 });
  for (const row of rows) {
    assert.ok(row.ok, row.serializer);
    assert.ok(row.bytes! > 0, `${row.serializer}: ${row.bytes} bytes`);
    assert.ok(row.encodeMs! >= 0 && row.decodeMs! >= 0, row.serializer);
    assert.is(row.error, null);
  }
});

values('special numbers, holes and typed arrays are named, and repeated changes are counted once', async () => {
  const value = { n: -0, nan: NaN, holes: [1, , 3], floats: new Float64Array([1.5, 2]), dates: [new Date(0), new Date(1), new Date(2)] };
  const [json] = await compareSerializers(value, { serializers: ['json'] });
  assert.equal(textsOf(json!), [
    '.n: -0 became 0',
    '.nan: NaN became null',
    '.holes[1]: hole became null',
    '.floats: Float64Array became object {0, 1}',
    '.dates[*]: Date became string, in 3 places',
  ]);
});

values('identity: a shared object copied and a cycle cut are reported; structured keeps both', async () => {
  await import('./fixtures/lossySerializers.js');
  const shared = { a: 1 };
  const [json, structured] = await compareSerializers({ first: shared, second: shared }, { serializers: ['json', 'structured'] });
  assert.equal(textsOf(json!), ['.second: shared reference to .first lost (now a separate copy)']);
  assert.equal(textsOf(structured!), []);

  const cyclic: Record<string, unknown> = { name: 'root' };
  cyclic.self = cyclic;
  const [cut, kept] = await compareSerializers(cyclic, { serializers: ['compare-cut-cycles', 'structured'] });
  assert.equal(textsOf(cut!), ['cycle at .self lost (became string)']);
  assert.equal(textsOf(kept!), []);
});

values('maxDifferences caps the list and counts the rest', async () => {
  const value = { a: new Date(0), b: new Map(), c: new Set(), d: /x/ };
  const [json] = await compareSerializers(value, { serializers: ['json'], maxDifferences: 2 });
  assert.is(json!.fidelity!.length, 2);
  assert.is(json!.fidelityOmitted, 2);
});

values('options are checked: an unknown serializer and a bad repeat are refused before any work', async () => {
  await rejects(compareSerializers(1, { serializers: ['nope'] }), (error) => {
    assert.instance(error, RangeError);
    assert.match(String(error), /Unknown serializer 'nope'.*structured/);
  });
  await rejects(compareSerializers(1, { repeat: 0 }), (error) => assert.match(String(error), /`repeat`.*got `0`/));
});

values.run();

const functions = suite('compareSerializers on functions');

const rate = 1.5;

functions("a captured variable: 'javascript' refuses it by name, 'closure' and 'auto' keep it", async () => {
  const rows = await compareSerializers({ applyRate: (x: number) => x * rate }, { serializers: ['javascript', 'closure', 'auto'] });
  const javascript = rowOf(rows, 'javascript');
  assert.not.ok(javascript.ok);
  assert.is(javascript.error!.stage, 'serialize');
  assert.is(javascript.error!.path, '.applyRate');
  assert.match(javascript.error!.problem, /`rate`/);
  for (const name of ['closure', 'auto']) {
    const row = rowOf(rows, name);
    assert.ok(row.ok, name);
    assert.equal(
      textsOf(row).filter((t) => t.includes('captured')),
      [],
      name,
    );
  }
});

functions('a function sent as source only, rebuilt in the worker, has lost its captured variable', async () => {
  await import('./fixtures/lossySerializers.js');
  const rows = await compareSerializers({ applyRate: (x: number) => x * rate }, { serializers: ['compare-raw-javascript', 'closure'] });
  assert.ok(textsOf(rowOf(rows, 'compare-raw-javascript')).includes(".applyRate: captured variable 'rate' lost"));
  assert.not.ok(textsOf(rowOf(rows, 'closure')).some((t) => t.includes('captured')));
});

functions("a captured variable named like a global: 'javascript' sends it and the worker's global takes its place", async () => {
  // Shadows the global URL class within this test only.
  const URL = 'https://api.example.com';
  const rows = await compareSerializers({ endpoint: () => URL }, { serializers: ['javascript', 'auto'] });
  assert.ok(rowOf(rows, 'javascript').ok);
  assert.ok(textsOf(rowOf(rows, 'javascript')).includes(".endpoint: captured variable 'URL' lost (the name now means the worker's global 'URL')"));
  assert.not.ok(textsOf(rowOf(rows, 'auto')).some((t) => t.includes('captured')));
});

functions('what a captured variable holds is compared too, identity included', async () => {
  const limits = {
    get max() {
      return 10;
    },
  };
  const settings = { since: new Date(0) };
  const value = { settings, since: () => settings.since, max: () => limits.max };
  const [closure, auto] = await compareSerializers(value, { serializers: ['closure', 'auto'] });
  const aboutCaptures = (row: SerializerComparison) => textsOf(row).filter((t) => t.includes('captured'));
  // 'closure' keeps getters; 'auto' reads them, as structured clone does, in captured values too.
  assert.equal(aboutCaptures(closure!), []);
  assert.equal(aboutCaptures(auto!), [".max -> captured 'limits' -> .max: getter became number"]);
  // The captured `settings` is still the object at `.settings`: no "shared reference lost".
  assert.not.ok(textsOf(auto!).some((t) => t.includes('shared')));
});

functions('a value marked with wrapNonSerializable travels as in a run: by the fallback serializer, captures included', async () => {
  const applyRate = (x: number) => x * rate;
  const rows = await compareSerializers({ applyRate: wrapNonSerializable(applyRate), when: new Date(0) }, { serializers: ['structured', 'json'] });
  const structured = textsOf(rowOf(rows, 'structured'));
  const json = textsOf(rowOf(rows, 'json'));
  assert.ok(rowOf(rows, 'structured').ok);
  assert.not.ok(structured.some((t) => t.includes('captured') || t.includes('.when')), structured.join('; '));
  assert.ok(json.includes('.when: Date became string'));
  assert.not.ok(json.some((t) => t.includes('captured')), json.join('; '));
});

functions('a function under structured, and a socket, give an error row, not a throw', async () => {
  const socket = new net.Socket();
  try {
    const [fn] = await compareSerializers({ fn: () => 1 }, { serializers: ['structured'] });
    assert.not.ok(fn!.ok);
    assert.is(fn!.error!.path, '.fn');
    assert.match(fn!.error!.problem, /function/);
    assert.ok(fn!.error!.remedy.length > 0);
    const [sock] = await compareSerializers({ socket }, { serializers: ['structured'] });
    assert.not.ok(sock!.ok);
    assert.is(sock!.error!.stage, 'serialize');
    assert.ok(sock!.error!.path.startsWith('.socket'), sock!.error!.path);
  } finally {
    socket.destroy();
  }
});

functions('the remedy is about the value the serializer named, not another one it would refuse too', async () => {
  const [devalue] = await compareSerializers({ point: new Point(1, 2), fn: () => 1 }, { serializers: ['devalue'] });
  assert.is(devalue!.error!.path, '.point');
  assert.match(devalue!.error!.remedy, /plain object/);
});

functions('a user serializer registered without { module } is compared, and its row says why fidelity was not checked', async () => {
  registerSerializer(
    {
      name: 'compare-no-module',
      capabilities: { functions: false, closures: false, cycles: false, classInstances: false, binary: false },
      serialize: (value) => JSON.stringify(value),
      deserialize: (text) => JSON.parse(String(text)),
    },
    { replace: true },
  );
  const [row] = await compareSerializers({ n: 1 }, { serializers: ['compare-no-module'] });
  assert.ok(row!.ok);
  assert.is(row!.fidelity, null);
  assert.match(row!.fidelityError!, /\{ module/);
});

functions('what a function carries by reference and by value: module exports and globals are named, copies are listed', async () => {
  const point = new Point(1, 2);
  const where = (name: string) => joinPath('/data', name, String(point.x));
  const model = persist(new Float64Array(4));
  try {
    const value = { where, max: Math.max, read: () => model.get()[0] };
    const rows = await compareSerializers(value, { serializers: ['closure', 'auto', 'structured'] });
    for (const name of ['closure', 'auto']) {
      const carried = rowOf(rows, name).carried;
      assert.ok(carried, name);
      assert.ok(carried!.byReference.includes('join of node:path'), carried!.byReference.join('; '));
      assert.ok(carried!.byReference.includes('Math.max'), carried!.byReference.join('; '));
      assert.ok(carried!.byReference.some((line) => /persist/i.test(line)), carried!.byReference.join('; '));
      assert.ok(carried!.byValue.includes('function where (captures point, joinPath)') || carried!.byValue.includes('function where (captures joinPath, point)'), carried!.byValue.join('; '));
      assert.ok(carried!.byValue.includes('instance of Point'), carried!.byValue.join('; '));
      assert.ok(carried!.byValue.includes('class Point'), carried!.byValue.join('; '));
    }
    // 'structured' refuses the functions: nothing carried to describe.
    assert.is(rowOf(rows, 'structured').carried, null);
    // Data alone has no nodes: no report.
    const [data] = await compareSerializers({ n: [1, 2] }, { serializers: ['auto'] });
    assert.is(data!.carried, null);
    const table = formatComparisonTable(rows);
    assert.match(table, /by reference: .*join of node:path/);
    assert.match(table, /by value: .*function where/);
  } finally {
    model.close();
  }
});

functions.run();

const stops = suite('compareSerializers stops its worker');

stops('the worker is stopped: a process that compares ends by itself, even after a worker that had to be stopped', async () => {
  const { code, stdout, stderr } = await runInRoot([fixture('compareInChild')]);
  assert.is(code, 0, stderr);
  const rows = JSON.parse(stdout) as SerializerComparison[];
  assert.match(rowOf(rows, 'compare-hangs-in-worker').fidelityError!, /within 5000 ms/);
  // The check after the stopped worker runs in a new one.
  assert.equal(textsOf(rowOf(rows, 'closure')).filter((t) => t.includes('captured')), []);
  assert.ok(rowOf(rows, 'auto').fidelity);
});

stops.run();

const cli = ['dist/src/cli.js'];
const cliSuite = suite('joblet compare');

cliSuite('prints a table with a row per serializer and what each loses', async () => {
  const { code, stdout, stderr } = await runInRoot([...cli, 'compare', 'dist/test/fixtures/compareValue.js']);
  assert.is(code, 0, stderr);
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^serializer\s+result\s+bytes\s+encode ms\s+decode ms\s+fidelity$/);
  for (const name of ['structured', 'json', 'devalue', 'javascript', 'closure', 'auto']) {
    assert.ok(lines.some((line) => line.startsWith(`${name} `)), `no row for ${name}`);
  }
  assert.match(lines.find((line) => line.startsWith('javascript '))!, /refused.*`rate`/);
  assert.match(lines.find((line) => line.startsWith('auto '))!, /^auto\s+ok\s+\d+/);
  // The last column starts at the same place on every line.
  const column = lines[0]!.indexOf('fidelity');
  assert.ok(lines.slice(1).every((line) => line[column - 1] === ' ' && line[column] !== ' '));
});

cliSuite('--export, --serializers and --json: the rows as JSON', async () => {
  const { code, stdout, stderr } = await runInRoot([...cli, 'compare', 'dist/test/fixtures/compareValue.js', '--export', 'data', '--serializers', 'json,auto', '--json']);
  assert.is(code, 0, stderr);
  const rows = JSON.parse(stdout) as SerializerComparison[];
  assert.equal(
    rows.map((r) => r.serializer),
    ['json', 'auto'],
  );
  assert.ok(rows[0]!.fidelity!.some((d) => d.text === '.when: Date became string'));
  assert.equal(rows[1]!.fidelity, []);
});

cliSuite('a missing module: exit code 1 and a message naming the file', async () => {
  const { code, stdout, stderr } = await runInRoot([...cli, 'compare', 'no/such/module.js']);
  assert.is(code, 1);
  assert.is(stdout, '');
  assert.match(stderr, /^joblet: Cannot find module 'no\/such\/module\.js' \(no file at .*no\/such\/module\.js\)/);
});

cliSuite('a missing export: exit code 1 and the exports there are', async () => {
  const { code, stderr } = await runInRoot([...cli, 'compare', 'dist/test/fixtures/compareValue.js', '--export', 'nope']);
  assert.is(code, 1);
  assert.match(stderr, /has no export named 'nope'; its exports are: Point, data, default/);
});

cliSuite('an unknown serializer: exit code 1 and the registered ones', async () => {
  const { code, stderr } = await runInRoot([...cli, 'compare', 'dist/test/fixtures/compareValue.js', '--serializers', 'nope']);
  assert.is(code, 1);
  assert.match(stderr, /Unknown serializer 'nope'\. Registered serializers: structured/);
});

cliSuite('--help prints the usage and exits 0', async () => {
  const { code, stdout } = await runInRoot([...cli, 'compare', '--help']);
  assert.is(code, 0);
  assert.match(stdout, /Usage: joblet compare <module>/);
});

cliSuite.run();

const table = suite('formatComparisonTable');

table('aligns the columns and continues long cells on the next lines', () => {
  const row = (serializer: string, bytes: number, texts: string[]): SerializerComparison => ({
    serializer,
    ok: true,
    error: null,
    bytes,
    encodeMs: 0.25,
    decodeMs: 12.5,
    fidelity: texts.map((text) => ({ path: '', change: '', text, count: 1 })),
    fidelityOmitted: 0,
    fidelityError: null,
    carried: null,
  });
  const refused: SerializerComparison = {
    ...row('json', 0, []),
    ok: false,
    bytes: null,
    encodeMs: null,
    decodeMs: null,
    fidelity: null,
    error: { stage: 'serialize', problem: 'Cannot serialize: a BigInt cannot be written as JSON', path: '.big', remedy: "Use serializer 'structured'." },
  };
  const text = formatComparisonTable([row('structured', 5, []), row('a-long-name', 12345, ['.a: x', '.b: y']), refused]);
  assert.is(
    text,
    [
      'serializer   result   bytes  encode ms  decode ms  fidelity',
      'structured   ok           5      0.250     12.500  no difference found',
      'a-long-name  ok       12345      0.250     12.500  .a: x',
      '                                                   .b: y',
      'json         refused      -          -          -  at .big: Cannot serialize: a BigInt cannot be written as JSON',
      "                                                   remedy: Use serializer 'structured'.",
    ].join('\n'),
  );
});

table.run();
