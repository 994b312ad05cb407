import type { Carried } from '../closure/carried.js';
import type { FidelityDifference } from './differences.js';

export type { Carried, FidelityDifference };

/** What `compareSerializers` compares, and how hard it looks. */
export interface CompareOptions {
  /**
   * Names of the serializers to compare, in the order of the rows.
   * @default listSerializers() (every registered one, built-ins first)
   * @example compareSerializers(value, { serializers: ['structured', 'auto'] })
   */
  serializers?: readonly string[];
  /**
   * How many times each encode and each decode is timed; the median is reported.
   * @default 5
   */
  repeat?: number;
  /**
   * Milliseconds the worker may take to rebuild one encoded value before its
   * fidelity check fails (a serializer whose `deserialize` never returns).
   * @default 30000
   */
  timeout?: number;
  /**
   * Most differences listed per serializer; the rest are counted in `fidelityOmitted`.
   * @default 20
   */
  maxDifferences?: number;
}

/** Why a serializer could not carry the value. */
export interface ComparisonError {
  /** 'serialize': `serialize` threw (the serializer refuses the value); 'deserialize': it could not read back its own output. */
  stage: 'serialize' | 'deserialize';
  /** What went wrong, in one sentence. */
  problem: string;
  /** Path of the culprit inside the value (`.handlers[0]`), '' for the root or when unknown. */
  path: string;
  /** What to do instead. */
  remedy: string;
}

/** One row of compareSerializers: how one serializer did with the value. JSON-friendly (no undefined). */
export interface SerializerComparison {
  /** The serializer of this row. */
  serializer: string;
  /** True when the value was encoded and decoded; the fidelity list says what the trip changed. */
  ok: boolean;
  /** Why the value could not be encoded or decoded, when it could not. */
  error: ComparisonError | null;
  /** Size of the encoded form: bytes, or UTF-8 bytes for a serializer that writes text. */
  bytes: number | null;
  /** Median encode time, milliseconds. */
  encodeMs: number | null;
  /** Median decode time in the main thread, milliseconds. */
  decodeMs: number | null;
  /**
   * What the round trip changed, as rebuilt in a worker thread: empty when
   * nothing was found, null when the check could not run (see `fidelityError`).
   */
  fidelity: FidelityDifference[] | null;
  /** Differences found beyond `maxDifferences`, not listed. */
  fidelityOmitted: number;
  /** Why the fidelity check could not run, when it could not. */
  fidelityError: string | null;
  /**
   * For a value holding functions or class instances, under a serializer built on the
   * closure codec ('closure', 'auto'): what travels by reference (module exports, globals,
   * shared values: the worker finds them) and what by value (copied). null otherwise.
   */
  carried: Carried | null;
}
