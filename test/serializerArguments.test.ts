// A user serializer is called as it was before the encode session existed: with the value alone.
// A library function registered as it is (devalue.stringify, whose second parameter is a table of
// reducers) would otherwise be handed joblet's own object and fail.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, runNode } from './helpers.js';

const test = suite('what a user serializer is called with');

test('devalue.stringify registered as it is carries tasks, and a user serializer gets the value alone, also beside a wrapped closure', async () => {
  const run = await runNode([fixture('serializerArguments')]);
  assert.is(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout), { plain: [{ v: 1 }, { v: 2 }, { v: 3 }], wrapped: [11, 12], argumentCounts: [1] });
});

test.run();
