import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Parallel,
  delayed,
  registerBackend,
  registerSerializer,
  listSerializers,
  getSerializer,
  SerializationError,
  type Backend,
  type WireBatch,
} from 'joblet';
import { parseFunctionSource } from '../src/source/freeVariables.js';
import { createInlineBackend } from '../src/backends/inline.js';
import { tagged } from './fixtures/taggedSerializer.js';
import { BACKENDS, rejects } from './helpers.js';

const free = (source: string) => parseFunctionSource(source)?.freeVariables.sort();

const analysis = suite('free-variable analysis (acorn + eslint-scope)');

analysis('parameters, locals, destructuring, hoisting and globals are not free', () => {
  assert.equal(free('(a, { b, c: [d] }, ...e) => a + b + d + e.length'), []);
  assert.equal(free('function f(x) { return g(x); function g(y) { return y * hoisted; } var hoisted = 2; }'), []);
  assert.equal(free('() => Math.max(1, 2) + JSON.stringify(process.pid) + Buffer.alloc(1).length + structuredClone(1)'), []);
  assert.equal(free('function fact(n) { return n <= 1 ? 1 : n * fact(n - 1); }'), []);
  assert.equal(free('function () { return arguments.length + this.x; }'), []);
  assert.equal(free('async (url) => { const { readFile } = await import("node:fs/promises"); return readFile(url); }'), []);
  assert.equal(free('(x) => { outer: for (;;) { break outer; } return x; }'), []);
});

analysis('captured names are free; shadowing and object keys are not mistaken for them', () => {
  assert.equal(free('(x) => x + k'), ['k']);
  assert.equal(free('(x) => { const k = 1; return x + k + m; }'), ['m']);
  assert.equal(free('(x) => ({ k: x, [key]: x }).k'), ['key']);
  assert.equal(free('(x) => x.k + helper(x)'), ['helper']);
  assert.equal(free('(x) => { try { return x; } catch (k) { return k + z; } }'), ['z']);
  assert.equal(free('class A extends Base { m() { return dep; } }'), ['Base', 'dep']);
  assert.equal(free('() => __awaiter(this, void 0, void 0, function* () {})'), ['__awaiter']);
});

analysis('method shorthand, getters and async generators parse in their own form', () => {
  const method = parseFunctionSource('triple(x) { return 3 * x * factor; }');
  assert.equal([method?.form, method?.freeVariables], ['method', ['factor']]);
  assert.equal(parseFunctionSource('get size() { return 3; }')?.form, 'method');
  assert.equal(parseFunctionSource('async *pages(n) { yield n; }')?.form, 'method');
  assert.is(parseFunctionSource('not a function {'), undefined);
});

analysis('classes report the names their extends clause needs; arrows report lexical this', () => {
  const cls = parseFunctionSource('class Dog extends mixin(Animal, Base.Inner) { bark() { return sound + this.name; } }');
  assert.ok(cls?.isClass);
  assert.equal(cls?.heritageNames.sort(), ['Animal', 'Base', 'mixin']);
  assert.equal(cls?.freeVariables.sort(), ['Animal', 'Base', 'mixin', 'sound']);
  assert.ok(parseFunctionSource('() => this.x + 1')?.usesLexicalThis);
  assert.not.ok(parseFunctionSource('() => function () { return this; }')?.usesLexicalThis);
  assert.equal(parseFunctionSource('() => process.pid + Math.PI')?.referencedNames.sort(), ['Math', 'process']);
});

analysis.run();

// A custom backend through the public seam: inline underneath, recording every batch it is given.
const submitted: WireBatch[] = [];
registerBackend('recording', (options) => {
  const inner = createInlineBackend(options);
  const recording: Backend = {
    name: 'recording',
    nWorkers: inner.nWorkers,
    capabilities: inner.capabilities,
    submit: (batch, events) => {
      submitted.push(batch);
      return inner.submit(batch, events);
    },
    cancel: (id, reason) => inner.cancel(id, reason),
    release: (ids) => inner.release(ids),
    terminate: () => inner.terminate(),
  };
  return recording;
});

const functions = suite('task functions travel as source');

functions("under 'structured', a function using a variable from its enclosing scope is refused before any worker sees it", async () => {
  const k = 10;
  const addK = (x: number) => x + k;
  const parallel = new Parallel({ backend: 'recording', serializer: 'structured' });
  submitted.length = 0;
  await rejects(parallel.run([delayed(addK)(1)]), (error) => {
    assert.instance(error, SerializationError);
    assert.is(error.phase, 'serialize-task');
    assert.is(error.path, 'fn');
    assert.is(error.serializer, 'structured');
    assert.is(error.taskIndex, 0);
    assert.match(error.message, '`addK`');
    assert.match(error.message, '`k`');
    assert.match(error.message, 'delayed(addK)(..., k)');
  });
  assert.is(submitted.length, 0);
  // The custom backend runs ordinary tasks.
  assert.equal(await parallel.run([delayed((x: number) => x + 1)(1)]), [2]);
  assert.is(submitted.length, 1);
  await parallel.close();
});

for (const backend of BACKENDS) {
  functions(`methods, recursive declarations and built-ins compile in the worker (${backend})`, async () => {
    const parallel = new Parallel({ backend, nJobs: 2 });
    const tools = {
      triple(x: number) {
        return 3 * x;
      },
    };
    function fact(n: number): number {
      return n <= 1 ? 1 : n * fact(n - 1);
    }
    assert.equal(await parallel.run([delayed(tools.triple)(2), delayed(fact)(5), delayed(Math.max)(1, 9, 3)]), [6, 120, 9]);
    const structured = new Parallel({ backend, serializer: 'structured', nJobs: 1 });
    await rejects(structured.run([delayed(fact.bind(null, 3))()]), (error) => {
      assert.instance(error, SerializationError);
      assert.match(error.message, 'bound function');
    });
    // The default serializer carries a bound function: its target, bound this and bound arguments.
    assert.equal(await parallel.run([delayed(fact.bind(null, 3))()]), [6]);
    await parallel.close();
    await structured.close();
  });

  functions(`a serializer registered with its module works inside workers (${backend})`, async () => {
    assert.ok(listSerializers().includes('tagged'));
    // What joblet calls is the user's object seen through a guard against dropping functions.
    assert.is(Object.getPrototypeOf(getSerializer('tagged')), tagged);
    const parallel = new Parallel({ backend, serializer: 'tagged', nJobs: 1 });
    const describe = (value: unknown) => ({ seen: value, pid: process.pid });
    const [out] = await parallel.run([delayed(describe)({ a: [1, 'x'] })]);
    assert.equal(out!.seen, { a: [1, 'x'] });
    if (backend === 'processes') assert.is.not(out!.pid, process.pid);
    // The worker answers in the same serializer: a result it cannot read back fails in deserialize-result.
    await rejects(parallel.run([delayed(() => 'poison')()]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'deserialize-result');
      assert.is(error.serializer, 'tagged');
      assert.match(error.message, 'refusing to read poison');
    });
    // Its JSON.stringify would drop a function without a word; capabilities say functions: false, so it is refused, with its path, both ways.
    await rejects(parallel.run([delayed((o: object) => Object.keys(o))({ onItem: () => 1 })]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-task');
      assert.is(error.path, 'args[0].onItem');
      assert.match(error.problem, "a function cannot be sent by 'tagged'");
    });
    await rejects(parallel.run([delayed(() => ({ later: () => 2 }))()]), (error) => {
      assert.instance(error, SerializationError);
      assert.is(error.phase, 'serialize-result');
      assert.is(error.path, 'result.later');
    });
    await parallel.close();
  });
}

functions('a serializer registered without a module fails in the worker with the remedy', async () => {
  registerSerializer({ ...tagged, name: 'main-only' }, { replace: true });
  const parallel = new Parallel({ backend: 'threads', serializer: 'main-only', nJobs: 1 });
  await rejects(parallel.run([delayed((x: number) => x)(1)]), (error) => {
    assert.instance(error, SerializationError);
    assert.is(error.phase, 'deserialize-task');
    assert.is(error.serializer, 'main-only');
    assert.match(error.message, "Unknown serializer 'main-only'");
    assert.match(error.message, 'registerSerializer(s, { module');
  });
  await parallel.close();
});

functions('a value no codec carries gets a remedy that does not name the serializer already in use', async () => {
  const parallel = new Parallel({ backend: 'inline' });
  await rejects(parallel.run([delayed((x: unknown) => x)(new WeakRef({}))]), (error) => {
    assert.instance(error, SerializationError);
    assert.is(error.path, 'args[0]');
    assert.match(error.problem, 'WeakRef');
    assert.not.match(error.remedy, "serializer 'structured'");
    assert.match(error.remedy, /create (the object itself|it) inside the task/i);
  });
  await parallel.close();
});

functions('registerSerializer refuses to replace a built-in or a name silently', () => {
  assert.throws(() => registerSerializer({ ...tagged, name: 'structured' }), /built in/);
  assert.throws(() => registerSerializer({ ...tagged, name: 'main-only' }), /already registered/);
  assert.throws(() => registerSerializer({ name: 'broken' } as never), /serialize/);
});

functions.run();
