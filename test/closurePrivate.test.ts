/**
 * Native #private state and unique symbols, carried (issue 13): an instance
 * whose class (or a parent class) has #private fields, private methods and
 * `#x in o` checks arrives with its fields, identity and prototype; a
 * property keyed by a unique `Symbol('tag')` and the captured symbol that
 * reads it arrive as one symbol; a class with a `*[Symbol.iterator]()`
 * generator method is the user's, not Node's. Each case runs in a real
 * worker thread and a real child process under the default serializer, and
 * in a fresh vm context; the expected value is the same call in this thread.
 */
import * as assert from 'uvu/assert';
import { delayed } from 'joblet';
import { expectedResults, freshVmSuite, workerSuites, type ClosureCase } from './fixtures/closureCases.js';

// ---- native #private fields ---------------------------------------------------------------
let constructed = 0;
class Account {
  static made = 0;
  #id = ++constructed;
  owner: string;
  constructor(owner: string) {
    this.owner = owner;
    Account.made++;
  }
  get id(): number {
    return this.#id;
  }
  static isAccount(o: object): boolean {
    return #id in o;
  }
}
class Tally extends Account {
  #total = 0;
  #count: number;
  #log: number[] = [];
  constructor(owner: string, start: number) {
    super(owner);
    this.#count = 0;
    this.#total = start;
  }
  add(x: number): this {
    this.#total += x;
    this.#count++;
    this.#log.push(x);
    return this;
  }
  #mean(): number {
    return this.#count ? this.#total / this.#count : 0;
  }
  get mean(): number {
    return this.#mean();
  }
  get total(): number {
    return this.#total;
  }
  get log(): number[] {
    return this.#log;
  }
  static isTally(o: object): boolean {
    return #total in o;
  }
}
class Counter {
  #n = 0;
  next(): number {
    return ++this.#n;
  }
  get value(): number {
    return this.#n;
  }
}
const tally = new Tally('ada', 10).add(2).add(4);
const twin = tally;
const argTally = new Tally('arg', 5).add(5);
const counter = new Counter();
counter.next();

// ---- a unique symbol as a key and as a captured value ------------------------------------
const TAG = Symbol('tag');
const tagged = { [TAG]: 'yes', plain: 1 };
const alsoTagged = { [TAG]: 'also' };

// ---- a user class with a Symbol.iterator generator method ---------------------------------
class Bag {
  items = [1, 2, 3];
  *[Symbol.iterator]() {
    yield* this.items;
  }
}
const bag = new Bag();

const CASES: ClosureCase[] = [
  {
    name: '#private fields of a captured instance of a derived class, private methods, #x in o',
    fn: () => [tally.total, tally.mean, tally.id, tally.owner, tally.log, Tally.isTally(tally), Account.isAccount(tally), tally instanceof Tally, tally instanceof Account, Object.keys(tally)],
  },
  { name: 'one instance met twice is one instance', fn: () => [tally === twin, Object.getPrototypeOf(tally) === Tally.prototype, Object.getPrototypeOf(Tally.prototype) === Account.prototype] },
  { name: 'a method writing a #private field of a captured base-class instance', fn: () => { const start = counter.value; return [start > 0, counter.next() - start, counter.next() - start, counter.value - start]; } },
  { name: 'an instance with #private fields as an argument', fn: (t: Tally) => [t.total, t.mean, Tally.isTally(t), t instanceof Account], args: [argTally] },
  { name: 'an instance made in the task', fn: () => { const t = new Tally('bob', 1).add(3); return [t.total, t.mean, Tally.isTally(t)]; } },
  { name: 'a property keyed by a unique symbol, read with the captured symbol', fn: () => [tagged[TAG], alsoTagged[TAG], TAG.description, Object.getOwnPropertySymbols(tagged)[0] === TAG] },
  { name: 'a unique symbol key of an argument and of a capture are one symbol', fn: (o: typeof tagged) => o[TAG], args: [tagged] },
  { name: 'a class with a Symbol.iterator generator method', fn: () => [...bag] },
  // Last: the cases above construct instances in this thread while their answers are computed.
  { name: 'field initialisers and constructor bodies do not run again when an instance is rebuilt', fn: () => [tally.id, argTally.id, Account.made] },
];

const expected = await expectedResults(CASES);
workerSuites((backend) => `#private state and symbols in a ${backend} worker`, CASES, expected, {
  nJobs: 1,
  more: (test, parallel) => {
    test('a symbol the task returns is the one the main thread sent', async () => {
      const [back, keyed] = (await parallel().run([delayed(() => TAG)(), delayed(() => tagged)()])) as [symbol, typeof tagged];
      assert.ok(back === TAG);
      assert.ok(Object.getOwnPropertySymbols(keyed)[0] === TAG);
    });
    test('an instance with #private fields returned by the task is refused with a remedy, not sent without them', async () => {
      try {
        await parallel().run([delayed(() => tally)()]);
        assert.unreachable('an instance whose class the main thread holds came back');
      } catch (error) {
        assert.match(String((error as Error).message), /#private fields cannot be sent/);
      }
    });
  },
});
freshVmSuite("#private state and symbols rebuilt by 'closure' in a fresh vm context", CASES, expected);
