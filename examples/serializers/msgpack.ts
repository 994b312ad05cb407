/**
 * A MessagePack serializer for joblet, built on msgpackr. It lives in a module
 * of its own because workers import this module (the `module` option below)
 * to register the same serializer in their own registry: importing it must
 * do nothing else. examples/custom-serializer.ts uses it.
 */
import { Packr } from 'msgpackr';
import { registerSerializer, type Serializer } from 'joblet';

// useRecords: false writes standard MessagePack maps, which any MessagePack decoder reads
// (msgpackr's default "records" are its own format); it also decodes maps as plain objects.
// moreTypes: typed arrays, Set, RegExp and Error as msgpackr extensions. It is needed, not
// optional: without it msgpackr 2.1.3 writes a Float64Array as a bin of the wrong bytes.
// writeFunction: msgpackr writes a function as undefined unless told otherwise. joblet itself
// refuses functions (with their path) for a serializer whose capabilities say functions: false,
// but this codec may be used alone too, and should throw on what it cannot carry there as well.
const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  writeFunction: () => {
    throw new TypeError('MessagePack cannot carry a function');
  },
});

export const msgpack: Serializer = {
  name: 'msgpack',
  // What joblet may expect of it: no functions (task functions then travel as source only,
  // so they must not capture anything), no cycles, no class instances (they become plain objects).
  capabilities: { functions: false, closures: false, cycles: false, classInstances: false, binary: true },
  serialize: (value) => packr.pack(value),
  deserialize: (data) => packr.unpack(data as Uint8Array),
  // Called by joblet only after serialize() threw, node by node, to name the culprit's path in the error.
  rejects(value, { cyclic }) {
    if (typeof value === 'function') return 'a function cannot be sent by MessagePack';
    if (cyclic) return 'MessagePack cannot carry an object that refers back to itself';
    return undefined;
  },
};

registerSerializer(msgpack, { module: import.meta.url });
