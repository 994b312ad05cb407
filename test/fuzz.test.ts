/**
 * Hostile values, fuzzed (issue 16, item 5): a few hundred seeded cases of test/fuzz/ (deep
 * nesting, huge and sparse arrays, throwing getters, proxies, revoked proxies, symbols, cycles
 * through Maps, odd prototypes, huge strings, typed arrays, BigInt, Dates, -0/NaN) as arguments,
 * captured values and results under every serializer, on threads and processes, in a child
 * process under a watchdog. Each arrives as the serializer's own round trip makes it or is
 * refused with a SerializationError naming a path and the serializer; nothing crashes or hangs,
 * and the pool runs a task after each. `npm run fuzz` runs thousands.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatFailure, fuzz } from './fuzz/driver.js';

const fuzzed = suite('hostile values, fuzzed');

fuzzed('200 seeded cases: each round-trips or is refused with a path and the serializer, never a crash or a hang', async () => {
  const summary = await fuzz({ seed: 1, runs: 200 });
  assert.is(summary.casesRun, 200);
  assert.ok(summary.same > 50 && summary.refused > 50, `both outcomes are exercised: ${summary.same} same, ${summary.refused} refused`);
  assert.equal(summary.failures.map(formatFailure), []);
});

fuzzed.run();
