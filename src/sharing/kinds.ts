/**
 * The by-reference kinds every realm knows (values/byReference.ts), registered on import: the
 * main thread through the public surface, a worker through its runtime. A new kind is a file
 * implementing ReferenceKind and one line here.
 */
import { registerReferenceKind } from '../values/byReference.js';
import { wrappedKind } from '../serialize/wrap.js';
import { persistedKind } from './persisted.js';
import { sharedKind } from './sharedArray.js';
import { counterKind } from './counter.js';

registerReferenceKind(wrappedKind);
registerReferenceKind(persistedKind);
registerReferenceKind(sharedKind);
registerReferenceKind(counterKind);
