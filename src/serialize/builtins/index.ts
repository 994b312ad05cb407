/** The main thread's built-in serializers, registered at import so that every name resolves synchronously. */
import { registerBuiltIn } from '../registry.js';
import { structuredSerializer } from './structured.js';
import { jsonSerializer } from './json.js';
import { devalueSerializer } from './devalue.js';
import { javascriptSerializer } from './javascript.js';
import { closureSerializer } from './closure.js';
import { autoSerializer } from './auto.js';
import * as codec from '../../closure/codec.js';
import * as payload from '../payload.js';
import { provideLoaded } from '../../values/loadNow.js';

// Loaded here already: what a worker loads on first need (values/loadNow.ts) is handed over, with no require().
provideLoaded(new URL('../../closure/codec.js', import.meta.url), codec);
provideLoaded(new URL('../payload.js', import.meta.url), payload);

for (const serializer of [structuredSerializer, jsonSerializer, devalueSerializer, javascriptSerializer, closureSerializer, autoSerializer]) {
  registerBuiltIn(serializer);
}
