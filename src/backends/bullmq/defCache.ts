import { deserialize } from 'node:v8';
import type { WireDef } from '../../runtime/protocol.js';
import type { BlobRef } from './blobs.js';
import type { DefRef } from './envelope.js';

interface Entry {
  def: WireDef;
  bytes: number;
  /** Batches being prepared or run that use it: never evicted under them. */
  pins: number;
  /** Released by its producer while pinned: dropped when the last pin goes. */
  released: boolean;
}

/** What a worker's cache did, for `--verbose` and the tests. */
export interface CacheStats {
  /** Defs fetched from Redis, and their bytes. */
  fetches: number;
  fetchedBytes: number;
  /** Defs held now, and their bytes. */
  entries: number;
  bytes: number;
}

/**
 * A `joblet worker`'s defs, by the hash of their bytes: each fetched from Redis once per process
 * (concurrent batches that need the same one wait for the one fetch), and kept while they fit in
 * `budget` bytes, least recently used first out. A def is also dropped when its producer says its
 * run or its persisted value ended. `forget` tells the local pool its workers may drop the ids too.
 */
export class DefCache {
  private readonly entries = new Map<string, Entry>();
  private readonly fetching = new Map<string, Promise<Entry>>();
  private held = 0;
  private fetches = 0;
  private fetchedBytes = 0;

  constructor(
    private readonly budget: number,
    private readonly fetch: (blob: BlobRef) => Promise<Buffer>,
    private readonly forget: (ids: string[]) => void,
  ) {}

  stats(): CacheStats {
    return { fetches: this.fetches, fetchedBytes: this.fetchedBytes, entries: this.entries.size, bytes: this.held };
  }

  /** The defs, pinned until `unpin`: from the cache, or fetched (and checked against their hash). */
  async pin(refs: readonly DefRef[]): Promise<WireDef[]> {
    const entries: Entry[] = [];
    try {
      for (const ref of refs) {
        const entry = await this.entry(ref);
        entry.pins++;
        entries.push(entry);
      }
    } catch (error) {
      this.unpinEntries(entries);
      throw error;
    }
    this.trim();
    return entries.map((entry) => entry.def);
  }

  unpin(refs: readonly DefRef[]): void {
    this.unpinEntries(refs.map((ref) => this.entries.get(ref.blob.hash)).filter((entry): entry is Entry => entry !== undefined));
  }

  /** The producer no longer needs these ids. */
  release(ids: readonly string[]): void {
    const wanted = new Set(ids);
    for (const [hash, entry] of this.entries) {
      if (!wanted.has(entry.def.id)) continue;
      if (entry.pins) entry.released = true;
      else this.drop(hash, entry);
    }
  }

  private unpinEntries(entries: readonly Entry[]): void {
    for (const entry of entries) entry.pins--;
    for (const [hash, entry] of this.entries) if (entry.released && !entry.pins) this.drop(hash, entry);
    this.trim();
  }

  private async entry(ref: DefRef): Promise<Entry> {
    const hash = ref.blob.hash;
    const cached = this.entries.get(hash);
    if (cached) {
      // Most recently used last.
      this.entries.delete(hash);
      this.entries.set(hash, cached);
      return cached;
    }
    let fetching = this.fetching.get(hash);
    if (!fetching) {
      fetching = this.fetch(ref.blob).then((bytes) => {
        const def = deserialize(bytes) as WireDef;
        if (def?.id !== ref.id) throw new Error(`joblet: def blob ${hash.slice(0, 12)} holds def ${String(def?.id)}, the job names ${ref.id}`);
        this.fetches++;
        this.fetchedBytes += bytes.length;
        const entry: Entry = { def, bytes: bytes.length, pins: 0, released: false };
        this.entries.set(hash, entry);
        this.held += entry.bytes;
        return entry;
      });
      this.fetching.set(hash, fetching);
      void fetching.catch(() => {}).finally(() => this.fetching.delete(hash));
    }
    return fetching;
  }

  /** Least recently used first, past the budget; pinned ones stay (a batch needs them now). */
  private trim(): void {
    if (this.held <= this.budget) return;
    for (const [hash, entry] of this.entries) {
      if (this.held <= this.budget) break;
      if (!entry.pins) this.drop(hash, entry);
    }
  }

  private drop(hash: string, entry: Entry): void {
    this.entries.delete(hash);
    this.held -= entry.bytes;
    // Another cached def of the same id (the same function from another producer) keeps the local workers' copy.
    for (const other of this.entries.values()) if (other.def.id === entry.def.id) return;
    this.forget([entry.def.id]);
  }
}
