import { describeCarried } from '../closure/carried.js';
import { encodeGraph } from '../closure/codec.js';
import { SerializationError } from '../errors.js';
import { locateFailure } from '../serialize/payload.js';
import { getSerializer, listSerializers, serializerModule } from '../serialize/registry.js';
import type { Serializer } from '../serialize/types.js';
import { FALLBACK_SERIALIZER } from '../serialize/wrap.js';
import { findDifferences } from './differences.js';
import { decodeLikeARun, encodedBytes, encodeLikeARun, type Encoded } from './encoding.js';
import { FidelityChecker } from './fidelityChecker.js';
import { fingerprint, type Fingerprint } from './fingerprint.js';
import { medianMs } from './timing.js';
import type { CompareOptions, ComparisonError, SerializerComparison } from './types.js';

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be an integer from ${min} and up, got \`${String(value)}\` (${typeof value})`);
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Encode `value` with each serializer and report, per serializer: whether it
 * carries the value (or the error, with path and remedy), the size of the
 * encoded form, median encode and decode times, and what a round trip
 * changes (`fidelity`), such as `.when: Date became string` or
 * `.fn: captured variable 'rate' lost`.
 *
 * Values are encoded as a run encodes a task's arguments: values marked
 * with wrapNonSerializable go by the fallback serializer ('closure').
 *
 * Fidelity is checked where a task would see the value: the encoded form is
 * rebuilt in a worker thread and described there, then compared with a
 * description of the original made here. Rebuilt in this thread, code would
 * still see what this thread has and a worker does not (its globals, its
 * loaded modules), and a loss would pass unseen. The worker is stopped
 * before the promise settles.
 *
 * A user serializer is checked in the worker only if it was registered with
 * `{ module }`; otherwise its row says why its fidelity was not checked.
 *
 * @example
 * const rows = await compareSerializers({ when: new Date(), m: new Map([[1, 'a']]) }, { serializers: ['json', 'auto'] });
 * rows[0].fidelity?.map((d) => d.text); // ['.when: Date became string', '.m: Map became {}']
 */
export async function compareSerializers(
  value: unknown,
  { serializers = listSerializers(), repeat = 5, timeout = 30_000, maxDifferences = 20 }: CompareOptions = {},
): Promise<SerializerComparison[]> {
  checkCount('repeat', repeat, 1);
  checkCount('timeout', timeout, 1);
  checkCount('maxDifferences', maxDifferences, 0);
  // Unknown names fail here, before any work, with the list of registered ones.
  const chosen = serializers.map((name) => getSerializer(name));
  let original: Fingerprint | Error;
  try {
    original = fingerprint(value);
  } catch (error) {
    // Still worth the sizes, times and refusals; the rows say why fidelity is missing.
    original = new Error(`the original value could not be described: ${messageOf(error)}`);
  }
  const checker = new FidelityChecker(timeout);
  try {
    const rows: SerializerComparison[] = [];
    // One at a time: timings taken while another codec runs would measure both.
    for (const serializer of chosen) rows.push(await compareOne(value, serializer, original, checker, repeat, maxDifferences));
    return rows;
  } finally {
    await checker.close();
  }
}

async function compareOne(
  value: unknown,
  serializer: Serializer,
  original: Fingerprint | Error,
  checker: FidelityChecker,
  repeat: number,
  maxDifferences: number,
): Promise<SerializerComparison> {
  const row: SerializerComparison = {
    serializer: serializer.name,
    ok: false,
    error: null,
    bytes: null,
    encodeMs: null,
    decodeMs: null,
    fidelity: null,
    fidelityOmitted: 0,
    fidelityError: null,
    carried: null,
  };
  let encoded: Encoded;
  try {
    encoded = encodeLikeARun(value, serializer);
  } catch (error) {
    // The same diagnosis a run would give: the culprit's path, the problem and the remedy.
    const failure = error instanceof SerializationError ? error : locateFailure(error, value, { serializer, root: '', phase: 'serialize-task' });
    row.error = { stage: 'serialize', problem: failure.problem, path: failure.path, remedy: failure.remedy };
    return row;
  }
  const { data } = encoded;
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    row.error = {
      stage: 'serialize',
      problem: `serialize() returned ${data === null ? 'null' : typeof data}, not a string or a Uint8Array`,
      path: '',
      remedy: 'A serializer must return text or bytes for every value it accepts, and throw for the others; fix the serializer or choose another.',
    };
    return row;
  }
  row.bytes = encodedBytes(encoded);
  row.encodeMs = medianMs(() => encodeLikeARun(value, serializer), repeat);
  const fallback = getSerializer(FALLBACK_SERIALIZER);
  try {
    row.decodeMs = medianMs(() => decodeLikeARun(encoded, serializer, fallback), repeat);
  } catch (error) {
    row.error = deserializeError(error);
    return row;
  }
  row.ok = true;
  row.carried = carriedBy(value, serializer);
  if (original instanceof Error) {
    row.fidelityError = `not checked: ${original.message}`;
    return row;
  }
  try {
    const rebuilt = await checker.check(serializer.name, serializerModule(serializer.name), encoded);
    const differences = findDifferences(original, rebuilt);
    row.fidelity = differences.slice(0, maxDifferences);
    row.fidelityOmitted = differences.length - row.fidelity.length;
  } catch (error) {
    row.fidelityError = `not checked: ${messageOf(error)}`;
  }
  return row;
}

/** The serializers built on the closure codec: what their graph carries, when it has nodes (functions, class instances). */
function carriedBy(value: unknown, serializer: Serializer): SerializerComparison['carried'] {
  if (serializer.name !== 'closure' && serializer.name !== 'auto') return null;
  const graph = encodeGraph(value, { accessors: serializer.name === 'closure' });
  return graph.nodes.length ? describeCarried(graph) : null;
}

function deserializeError(error: unknown): ComparisonError {
  return {
    stage: 'deserialize',
    problem: `Cannot deserialize its own output: ${messageOf(error)}`,
    path: '',
    remedy: 'This serializer cannot carry this value even though it wrote it; choose another serializer for it.',
  };
}
