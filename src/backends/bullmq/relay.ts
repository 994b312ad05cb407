/**
 * A Counter's increment (any by-reference kind's message to its main side) reaches the joblet
 * worker process from its local pool; the count lives with the producer. The worker keeps the
 * messages and hands each to the reply of a batch that uses the value (its def is in the batch),
 * so the producer applies them before it delivers that batch's results.
 */
import '../../sharing/kinds.js';
import { referenceKinds } from '../../values/byReference.js';
import type { WireBatch } from '../../runtime/protocol.js';
import type { Relayed } from './envelope.js';

export interface Relay {
  /** The messages for values this batch uses, taken out of the relay. */
  take(batch: WireBatch): Relayed[] | undefined;
}

/** In this process, every kind's main side becomes the relay (a joblet worker process has no main side of its own). */
export function relayReceives(): Relay {
  const held: Relayed[] = [];
  for (const kind of referenceKinds()) {
    if (!kind.receive) continue;
    const name = kind.name;
    (kind as { receive?(body: unknown): void }).receive = (body) => void held.push({ kind: name, body });
  }
  return {
    take(batch) {
      if (!held.length) return undefined;
      const ids = new Set(batch.defs.filter((def) => def.kind === 'ref').map((def) => def.id));
      const mine: Relayed[] = [];
      for (let i = 0; i < held.length; ) {
        const id = (held[i]!.body as { id?: unknown } | null)?.id;
        if (typeof id === 'string' && ids.has(id)) mine.push(...held.splice(i, 1));
        else i++;
      }
      return mine.length ? mine : undefined;
    },
  };
}

/** The producer's side: hand each relayed message to its kind, as a local worker's would be. */
export function applyRelayed(relayed: Relayed[] | undefined): void {
  for (const { kind, body } of relayed ?? []) referenceKinds().find((k) => k.name === kind)?.receive?.(body);
}
