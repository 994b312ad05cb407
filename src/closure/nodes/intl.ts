import vm from 'node:vm';
import { isDeepStrictEqual } from 'node:util';
import { UnserializableValueError } from '../../serialize/types.js';
import type { NodeRecord } from '../graph.js';
import type { NodeKind } from '../nodeKind.js';

/**
 * Intl formatters: every realm has the constructors, and an instance is
 * entirely what `resolvedOptions()` says (its locale included), so it
 * travels as the constructor's name and those options and is made again
 * by the receiver's own Intl.
 */
const INTL_CONSTRUCTORS = ['NumberFormat', 'DateTimeFormat', 'Collator', 'PluralRules', 'RelativeTimeFormat', 'ListFormat', 'Segmenter', 'DisplayNames'] as const;

type IntlRecord = { t: 'intl'; ctor: string; options: Record<string, unknown> };
type IntlConstructor = new (locale: unknown, options: unknown) => { resolvedOptions(): Record<string, unknown> };

const intl = Intl as unknown as Record<string, IntlConstructor | undefined>;

function intlConstructorOf(value: object): string | undefined {
  const proto = Object.getPrototypeOf(value);
  return INTL_CONSTRUCTORS.find((name) => intl[name]?.prototype === proto);
}

function make(ctor: string, options: Record<string, unknown>, context?: vm.Context): unknown {
  const Ctor = (context ? vm.runInContext(`Intl.${ctor}`, context) : intl[ctor]) as IntlConstructor;
  return new Ctor(options.locale, options);
}

export const intlNode: NodeKind<IntlRecord> = {
  claims: (value) => intlConstructorOf(value) !== undefined,
  reduce(value: object, _encoder, path: string): NodeRecord {
    const ctor = intlConstructorOf(value)!;
    const options = (value as InstanceType<IntlConstructor>).resolvedOptions();
    const refuse = (why: string) =>
      new UnserializableValueError(`an Intl.${ctor} ${why}`, path, `Create the Intl.${ctor} inside the task from its locale and options.`);
    if (Reflect.ownKeys(value).length) throw refuse('with properties of its own cannot be sent');
    // Only what its options make again travels: checked here, so the receiver never formats differently.
    let again: Record<string, unknown>;
    try {
      again = (make(ctor, options) as InstanceType<IntlConstructor>).resolvedOptions();
    } catch {
      throw refuse('cannot be made again from its resolved options');
    }
    if (!isDeepStrictEqual(again, options)) throw refuse('cannot be made again from its resolved options');
    return { t: 'intl', ctor, options };
  },
  make: (record, decoder) => make(record.ctor, record.options, decoder.context),
};
