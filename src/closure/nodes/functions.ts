import { UnserializableValueError } from '../../serialize/types.js';
import { RESOURCE_REMEDY } from '../../values/unsendable.js';
import { classIdOf, classRegistry, knownClassId, noteReceivedClass, peerHoldsClass } from '../classRegistry.js';
import type { FunctionRecord, NodeRecord } from '../graph.js';
import { loadModuleRef } from '../modules.js';
import { inPackage, packageObjectRef } from '../packages.js';
import type { NodeDecoder, NodeEncoder, NodeKind } from '../nodeKind.js';
import { compile } from './compileFunction.js';

/**
 * Functions: by source with their captured variables ('fn'), by class id
 * when the receiver has the class ('classref'), bound functions ('bound'),
 * and module exports by reference ('module'). One reduce takes a function
 * apart; what it finds decides the record.
 */

export const functionNode: NodeKind<FunctionRecord> = {
  claims: (value) => typeof value === 'function',
  reduce(fn: Function, encoder: NodeEncoder, path: string): NodeRecord {
    const knownId = knownClassId(fn);
    if (knownId !== undefined && peerHoldsClass(knownId)) return { t: 'classref', cid: knownId };
    const capture = encoder.capture(fn);
    switch (capture.kind) {
      case 'unsupported': {
        const error = new UnserializableValueError(`function \`${capture.name}\` cannot be sent: ${capture.reason}`, path, RESOURCE_REMEDY);
        throw capture.package === undefined ? error : inPackage(error, capture.package, capture.name, (m, p, r) => new UnserializableValueError(m, p, r));
      }
      case 'global':
        return { t: 'global', path: capture.path };
      case 'module':
        return { t: 'module', ...capture.ref };
      case 'bound':
        return {
          t: 'bound',
          target: encoder.transform(capture.target, `${path} -> bound target`),
          thisArg: encoder.transform(capture.thisArg, `${path} -> bound this`),
          args: encoder.transform(capture.args, `${path} -> bound arguments`) as unknown[],
        };
      case 'source': {
        // A package's function no export reaches is copied, within a budget per package.
        if (capture.package !== undefined) encoder.copyFromPackage(capture.package, path);
        const vars: Record<string, unknown> = {};
        try {
          for (const [name, captured] of capture.values) vars[name] = encoder.transform(captured, `${path} -> captured '${name}'`);
        } catch (error) {
          if (capture.package === undefined || !(error instanceof UnserializableValueError)) throw error;
          throw inPackage(error, capture.package, capture.name, (m, p, r) => new UnserializableValueError(m, p, r));
        }
        for (const [name, ref] of capture.modules) {
          vars[name] = encoder.marker(`module:${ref.specifier}#${ref.binding}`, () => ({ t: 'module', specifier: ref.specifier, binding: ref.binding }));
        }
        const record: FunctionRecord = {
          t: 'fn',
          name: capture.name,
          source: capture.source,
          form: capture.form,
          strict: capture.strict,
          vars,
          props: encoder.ownProperties(fn, path, ['prototype']),
        };
        if (capture.lexicalThis) record.self = encoder.transform(capture.lexicalThis.value, `${path} -> this`);
        if (capture.superClass) record.sup = encoder.transform(capture.superClass.value, `${path} -> extends`);
        const prototype = (fn as { prototype?: unknown }).prototype;
        if (!capture.isClass && typeof prototype === 'object' && prototype !== null && Object.keys(prototype).length) {
          record.protoProps = encoder.ownProperties(prototype, `${path}.prototype`, ['constructor']);
        }
        if (capture.isClass || record.protoProps) {
          record.cid = classIdOf(fn);
          record.cep = encoder.epoch;
        }
        return record;
      }
    }
  },

  make(record, decoder) {
    const registry = record.cid === undefined ? undefined : classRegistry(decoder.context);
    const known = record.cid === undefined ? undefined : registry!.get(record.cid);
    // The defining realm's own class, or this run's snapshot already rebuilt: reuse it.
    if (known && (known.epoch === '*' || known.epoch === record.cep)) return known.cls;
    const early: Record<string, unknown> = {};
    const late: [string, number][] = [];
    for (const [name, captured] of Object.entries(record.vars)) {
      const target = decoder.markerOf(captured);
      if (target !== undefined && decoder.isBeingBuilt(target)) late.push([name, target]);
      else early[name] = decoder.value(captured, () => undefined);
    }
    const sup = record.sup === undefined ? undefined : decoder.value(record.sup, () => undefined);
    const self = record.self === undefined ? undefined : decoder.value(record.self, () => undefined);
    const [fn, setLate] = compile(record, early, sup, self, decoder.context);
    if (record.cid !== undefined) noteReceivedClass(fn, record.cid, record.cep ?? '', decoder.context);
    for (const [name, target] of late) decoder.whenBuilt(target, () => setLate(name, decoder.built(target)));
    const own = fn as unknown as Record<string, unknown>;
    for (const [key, v] of Object.entries(record.props)) own[key] = decoder.value(v, (r) => (own[key] = r));
    if (record.protoProps) {
      const prototype = (fn as { prototype: Record<string, unknown> }).prototype;
      for (const [key, v] of Object.entries(record.protoProps)) prototype[key] = decoder.value(v, (r) => (prototype[key] = r));
    }
    return fn;
  },
};

export const classRefNode: NodeKind<{ t: 'classref'; cid: string }> = {
  make(record, decoder) {
    const known = classRegistry(decoder.context).get(record.cid);
    if (!known) throw new Error(`joblet: class ${record.cid} is not known in this realm any more`);
    return known.cls;
  },
};

export const boundNode: NodeKind<{ t: 'bound'; target: unknown; thisArg: unknown; args: unknown[] }> = {
  make(record, decoder) {
    const target = decoder.value(record.target, () => {
      throw new Error('joblet: a bound function whose target refers back to it is not supported');
    }) as Function;
    return target.bind(decoder.value(record.thisArg, () => undefined), ...(decoder.value(record.args, () => undefined) as unknown[]));
  },
};

/**
 * A module, or a value an installed package's exports reach by a property path (an object here; a
 * function's reference comes from its capture): the worker loads the same module file and walks
 * the same path, so nothing of the package is copied.
 */
export const moduleNode: NodeKind<{ t: 'module'; specifier: string; binding: string; path?: string[] }> = {
  claims: (value) => typeof value === 'object' && packageObjectRef(value) !== undefined,
  reduce: (value: object): NodeRecord => ({ t: 'module', ...packageObjectRef(value)! }),
  make: (record) => loadModuleRef(record),
};
