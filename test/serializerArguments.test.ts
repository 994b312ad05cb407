// A user serializer is called as it was before the encode session existed: with the value alone.
// A library function registered as it is (devalue.stringify, whose second parameter is a table of
// reducers) would otherwise be handed joblet's own object and fail.
import * as devalue from 'devalue';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { delayed, registerSerializer, wrapNonSerializable } from 'joblet';
import { withParallel } from './helpers.js';

const text = { functions: false, closures: false, cycles: true, classInstances: false, binary: false };
const argumentCounts: number[] = [];
registerSerializer({
  name: 'counts-its-arguments',
  capabilities: text,
  serialize(...given: unknown[]) {
    argumentCounts.push(given.length);
    return devalue.stringify(given[0]);
  },
  deserialize: (data) => devalue.parse(data as string),
});
registerSerializer({ name: 'devalue-as-it-is', capabilities: text, serialize: devalue.stringify, deserialize: (data) => devalue.parse(data as string) });

const test = suite('what a user serializer is called with');

test('a library function registered as it is (devalue.stringify) carries the tasks and their results', async () => {
  await withParallel({ backend: 'inline', serializer: 'devalue-as-it-is' }, async (parallel) => {
    assert.equal(await parallel.run([1, 2, 3].map((x) => delayed((v: number) => ({ v }))(x))), [{ v: 1 }, { v: 2 }, { v: 3 }]);
  });
});

test('a user serializer gets the value alone, also in a run that carries closures and wrapped values', async () => {
  argumentCounts.length = 0;
  const k = 10;
  const addK = wrapNonSerializable((x: number) => x + k);
  await withParallel({ backend: 'inline', serializer: 'counts-its-arguments' }, async (parallel) => {
    assert.equal(await parallel.run([1, 2].map((x) => delayed(addK)(x))), [11, 12]);
  });
  assert.ok(argumentCounts.length > 0, 'the serializer was used');
  assert.equal([...new Set(argumentCounts)], [1]);
});

test.run();
