/** The main thread's built-in serializers, registered at import so that every name resolves synchronously. */
import { registerBuiltIn } from '../registry.js';
import { structuredSerializer } from './structured.js';
import { jsonSerializer } from './json.js';
import { devalueSerializer } from './devalue.js';
import { javascriptSerializer } from './javascript.js';
import { closureSerializer } from './closure.js';
import { autoSerializer } from './auto.js';

for (const serializer of [structuredSerializer, jsonSerializer, devalueSerializer, javascriptSerializer, closureSerializer, autoSerializer]) {
  registerBuiltIn(serializer);
}
