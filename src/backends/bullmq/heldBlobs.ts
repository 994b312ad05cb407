import type { Redis } from 'ioredis';
import { BLOB_TTL_MS, deleteBlobs, putBlob, touchBlob, type BlobRef } from './blobs.js';

interface Held {
  ref: BlobRef;
  /** Who needs it: a def (`def:<id>`) or a job (its id). Deleted from Redis once nobody does. */
  holders: Set<string>;
  /** Its bytes, when it must be stored (again, if it expired while this side was idle). */
  bytes: () => Uint8Array;
  /** Stored (or being stored) and when it was last known to be there. */
  stored?: Promise<void> | undefined;
  refreshedAt: number;
}

/** A blob nobody holds: to delete once its store (if still on its way) is done. */
export interface Freed {
  ref: BlobRef;
  stored: Promise<void>;
}

/** Refreshed when older than this: a blob in use never reaches its TTL. */
const REFRESH_AFTER_MS = BLOB_TTL_MS / 4;

/**
 * The producer's blobs: the defs of its runs and the large arguments of its jobs, each stored
 * once (content-addressed: two holders of the same bytes share it), refreshed while held, and
 * deleted when its last holder lets go (a job answered, a def released, the backend closed).
 */
export class HeldBlobs {
  private readonly byHash = new Map<string, Held>();
  private readonly byHolder = new Map<string, Set<string>>();
  private readonly deleting = new Map<string, Promise<void>>();

  constructor(private readonly queue: string) {}

  get size(): number {
    return this.byHash.size;
  }

  hold(ref: BlobRef, holder: string, bytes: () => Uint8Array): void {
    let held = this.byHash.get(ref.hash);
    if (!held) this.byHash.set(ref.hash, (held = { ref, holders: new Set(), bytes, refreshedAt: 0 }));
    held.holders.add(holder);
    let hashes = this.byHolder.get(holder);
    if (!hashes) this.byHolder.set(holder, (hashes = new Set()));
    hashes.add(ref.hash);
  }

  /** Every blob of `refs` is in Redis: stored the first time, its TTL pushed back when its last refresh is old, stored again if it expired. */
  async ensure(redis: Redis, refs: readonly BlobRef[]): Promise<void> {
    await Promise.all(refs.map((ref) => this.ensureOne(redis, ref)));
  }

  private ensureOne(redis: Redis, ref: BlobRef): Promise<void> {
    const held = this.byHash.get(ref.hash);
    if (!held) return Promise.reject(new Error(`joblet: blob ${ref.hash} is not held`));
    const fresh = held.stored && Date.now() - held.refreshedAt < REFRESH_AFTER_MS;
    if (fresh) return held.stored!;
    const before = held.stored;
    // The same bytes freed a moment ago: stored again only after that delete.
    const deleting = before ? undefined : this.deleting.get(ref.hash);
    const stored = (async () => {
      await (before ?? deleting)?.catch(() => {});
      if (!before || !(await touchBlob(redis, this.queue, held.ref))) await putBlob(redis, this.queue, held.ref, held.bytes());
      held.refreshedAt = Date.now();
    })();
    held.stored = stored;
    // A failed store is tried again by the next job that needs it.
    stored.catch(() => {
      if (held.stored === stored) held.stored = undefined;
    });
    return stored;
  }

  /** Push back the TTL of every held blob whose last refresh is old (the sweep, while a session is open). */
  async refresh(redis: Redis): Promise<void> {
    const now = Date.now();
    const stale = [...this.byHash.values()].filter((held) => held.stored && now - held.refreshedAt >= REFRESH_AFTER_MS);
    await Promise.allSettled(stale.map((held) => this.ensureOne(redis, held.ref)));
  }

  /** `holder` lets go: the blobs nobody holds any more, forgotten here, to delete from Redis. */
  drop(holder: string): Freed[] {
    const hashes = this.byHolder.get(holder);
    if (!hashes) return [];
    this.byHolder.delete(holder);
    const freed: Freed[] = [];
    for (const hash of hashes) {
      const held = this.byHash.get(hash)!;
      held.holders.delete(holder);
      if (held.holders.size) continue;
      this.byHash.delete(hash);
      // Only what was stored (or being stored) is in Redis.
      if (held.stored) freed.push({ ref: held.ref, stored: held.stored });
    }
    return freed;
  }

  /** Everything: the backend closes. */
  dropAll(): Freed[] {
    const all = [...this.byHash.values()].filter((held) => held.stored).map((held) => ({ ref: held.ref, stored: held.stored! }));
    this.byHash.clear();
    this.byHolder.clear();
    return all;
  }

  /** Delete freed blobs from Redis, after any store of theirs still on its way. */
  async delete(redis: Redis, freed: readonly Freed[]): Promise<void> {
    if (!freed.length) return;
    const done = (async () => {
      await Promise.allSettled(freed.map((blob) => blob.stored));
      await deleteBlobs(redis, this.queue, freed.map((blob) => blob.ref));
    })();
    for (const { ref } of freed) this.deleting.set(ref.hash, done);
    try {
      await done;
    } finally {
      for (const { ref } of freed) if (this.deleting.get(ref.hash) === done) this.deleting.delete(ref.hash);
    }
  }
}
