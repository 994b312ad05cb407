import type { ThrownRecord } from '../errors.js';
import type { Serializer } from '../serialize/types.js';
import type { Bytes } from './protocol.js';

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** What was thrown, as data: Errors keep name, message, stack and own properties; other values travel as they are. */
export function recordThrown(thrown: unknown): ThrownRecord {
  if (thrown instanceof Error) {
    const properties: Record<string, unknown> = {};
    const unreadable: string[] = [];
    for (const key of Object.keys(thrown)) {
      try {
        properties[key] = (thrown as unknown as Record<string, unknown>)[key];
      } catch {
        unreadable.push(key); // a getter that throws: the task's error still has to reach the user
      }
    }
    const record: ThrownRecord = { isError: true, name: String(thrown.name), message: String(thrown.message), stack: thrown.stack, properties };
    if (unreadable.length) record.propertiesLost = `reading ${unreadable.map((k) => `\`${k}\``).join(', ')} threw`;
    return record;
  }
  return { isError: false, name: typeof thrown, message: describeValue(thrown), stack: undefined, properties: {}, value: thrown };
}

/**
 * Encode the record with the batch's serializer so custom properties keep
 * what that serializer keeps. If it cannot carry them, drop them and say so;
 * if it cannot carry even that, the caller sends the plain record.
 */
export function encodeThrown(record: ThrownRecord, serializer: Serializer): { data?: Bytes; record?: ThrownRecord } {
  try {
    return { data: serializer.serialize(record) };
  } catch (error) {
    const reason = `serializer '${serializer.name}' could not carry them: ${error instanceof Error ? error.message : String(error)}`;
    const stripped: ThrownRecord = { ...record, properties: {}, propertiesLost: reason };
    if (!record.isError) stripped.value = describeValue(record.value);
    try {
      return { data: serializer.serialize(stripped) };
    } catch {
      return { record: stripped };
    }
  }
}

/** The record as plain data a structured clone carries (a message of its own, with no serializer). */
export function plainThrown(record: ThrownRecord): ThrownRecord {
  try {
    return structuredClone(record);
  } catch (error) {
    const stripped: ThrownRecord = { ...record, properties: {}, propertiesLost: `the transport could not carry them: ${error instanceof Error ? error.message : String(error)}` };
    if (!record.isError) stripped.value = describeValue(record.value);
    return stripped;
  }
}
