/**
 * Review of the #private support (issue 13): shapes that gave a different answer in the worker,
 * or failed only there, now carried exactly or refused at submission. Each case runs in a real
 * worker thread and a real child process under the default serializer; the expected value is
 * the same call in this thread.
 */
import * as assert from 'uvu/assert';
import { delayed, SerializationError } from 'joblet';
import { expectedResults, workerSuites, type ClosureCase } from './fixtures/closureCases.js';

// A static #private field changed before sending: the worker's copy of the class held the value
// its initialiser makes (0), not the one the program had set (3).
class Ticket {
  static #issued = 0;
  static issue(): number {
    return ++Ticket.#issued;
  }
  static get issued(): number {
    return Ticket.#issued;
  }
}
Ticket.issue();
Ticket.issue();
Ticket.issue();

// A static #private registry holding instances of its own class (a cycle through the class).
class Node1 {
  static #all: Node1[] = [];
  #v: number;
  constructor(v: number) {
    this.#v = v;
    Node1.#all.push(this);
  }
  static sum(): number {
    return Node1.#all.reduce((s, n) => s + n.#v, 0);
  }
  static allAreNodes(): boolean {
    return Node1.#all.every((n) => n instanceof Node1 && #v in n);
  }
}
new Node1(1);
new Node1(2);

// A singleton with #private state held by a public static of its own class (was refused, as if
// the class extended a built-in).
class Config {
  #values: Record<string, number> = { a: 1 };
  static instance = new Config();
  get(k: string): number | undefined {
    return this.#values[k];
  }
  set(k: string, v: number): void {
    this.#values[k] = v;
  }
}
Config.instance.set('a', 5);
class Settings extends Config {
  #z = 'z';
  static current = new Settings();
  z(): string {
    return this.#z;
  }
}

// A base class with #private members, whose constructor's parameter default reads `this` and
// which returns a primitive (ignored): the brandable rewrite made it a derived class, where
// both threw in the worker only.
class Named {
  #secret = 1;
  label: string;
  constructor(label: string = (this as { constructor: Function }).constructor.name, fail = false) {
    this.label = label;
    if (fail) return 5 as unknown as Named;
  }
  get secret(): number {
    return this.#secret;
  }
}
const named = new Named();

// Objects with a #private class's prototype that its constructor did not make.
class Branded {
  #check(): number {
    return 1;
  }
  static is(o: object): boolean {
    return #check in o;
  }
}
const fakeBranded = Object.create(Branded.prototype) as Branded;
class Holder {
  #x = 1;
  static is(o: object): boolean {
    return #x in o;
  }
}
const fakeHolder = Object.create(Holder.prototype) as Holder;

const CASES: ClosureCase[] = [
  { name: 'a static #private field as the program set it', fn: () => Ticket.issued },
  { name: 'a static #private field holding instances of its own class', fn: () => [Node1.sum(), Node1.allAreNodes()] },
  { name: 'a public static holding an instance with #private fields (a singleton)', fn: () => [Config.instance.get('a'), Config.instance instanceof Config] },
  { name: 'a derived singleton with #private fields in both classes', fn: () => [Settings.current.z(), Settings.current.get('a')] },
  { name: "a base constructor whose parameter default reads `this`, instance and class", fn: () => [named.label, named.secret, new Named().label, new Named('x').label, Named.length] },
  { name: 'a base constructor returning a primitive', fn: () => { const o = new Named('y', true); return [o instanceof Named, o.label, o.secret]; } },
];

const expected = await expectedResults(CASES);
workerSuites((backend) => `#private review in a ${backend} worker`, CASES, expected, {
  nJobs: 1,
  more: (test, parallel) => {
    test('a static #private field a task changes is as submitted in the next run', async () => {
      const start = Ticket.issued;
      for (let run = 0; run < 2; run++) {
        const [issued] = await parallel().run([delayed(() => Ticket.issue())()]);
        assert.is(issued, start + 1);
      }
      assert.is(Ticket.issued, start);
    });
    for (const [what, fn, pattern] of [
      ['a brand-only class', () => Branded.is(fakeBranded), /not made by its class's constructor.*private methods/],
      ['a class with a #private field', () => Holder.is(fakeHolder), /not made by its class's constructor.*lacks #x/],
    ] as const) {
      test(`Object.create of ${what}'s prototype is refused at submission (the worker would give it the brand)`, async () => {
        try {
          await parallel().run([delayed(fn)()]);
          assert.unreachable('an object without the brand was sent');
        } catch (error) {
          assert.instance(error, SerializationError);
          assert.match(String((error as Error).message), pattern);
          assert.match(String((error as Error).message), /Send the data and build the instance inside the task/);
        }
      });
    }
  },
});
