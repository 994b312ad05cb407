import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { types } from 'node:util';
import { SerializationError } from '../errors.js';
import { isClassInstance } from '../closure/codec.js';
import { formatPath, joinPath } from '../serialize/paths.js';
import { substitute } from '../serialize/substitute.js';
import { UnserializableValueError } from '../serialize/types.js';
import { findInGraph, someInGraph } from '../serialize/walk.js';
import { isSharedView } from './sharedArray.js';

/**
 * `persist()` and its handle (lenskit's `persist` and `PersistedModel`).
 * A value persisted once is sent to each worker once and rebuilt there once,
 * however many tasks use it: on threads through shared memory (no copy of
 * its typed arrays), on processes through a file read once per worker.
 */
export type PersistMethod = 'shm' | 'file';

export interface PersistOptions {
  /**
   * 'shm': typed arrays and ArrayBuffers inside the value move to shared
   * memory (threads see them without a copy; processes get a copy each).
   * 'file': the value is written once to a temporary folder and read once
   * per worker (JOBLET_TEMP_DIR, else the system's). Default: what the
   * backend that receives it supports (shared memory on threads and inline,
   * a file on processes).
   */
  method?: PersistMethod;
}

/** Backends that may hold persisted values, told to drop them when a handle closes. */
const holders = new Set<{ release(ids: readonly string[]): void }>();
export function trackHolder(holder: { release(ids: readonly string[]): void }): () => void {
  holders.add(holder);
  return () => holders.delete(holder);
}

// Temporary files this thread owns, and their folders: removed when it exits, whatever the reason.
// Only owned files go: a file transferred to the main thread outlives the worker that wrote it.
const ownedFiles = new Set<string>();
const folders = new Set<string>();
let folder: string | undefined;
let cleanupRegistered = false;
function cleanUpAtExit(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.once('exit', () => {
    for (const file of ownedFiles) rmSync(file, { force: true });
    for (const dir of folders) {
      try {
        rmdirSync(dir); // only when empty: another thread may still own a file in it
      } catch {
        /* not empty, or gone */
      }
    }
  });
}
function tempFolder(): string {
  if (!folder) {
    folder = mkdtempSync(join(process.env.JOBLET_TEMP_DIR || tmpdir(), 'joblet-'));
    folders.add(folder);
    cleanUpAtExit();
  }
  return folder;
}
function own(file: string): void {
  ownedFiles.add(file);
  folders.add(dirname(file));
  cleanUpAtExit();
}

/** The serializer a file is written with: structured clone for data, the closure codec where needed. */
let fileCodec: { serialize(v: unknown): Uint8Array | string; deserialize(d: Uint8Array | string): unknown } | undefined;
export function setFileCodec(codec: typeof fileCodec): void {
  fileCodec = codec;
}

/** A copy of `value` whose typed arrays and ArrayBuffers are on shared memory (containers copied only where needed). */
function toSharedMemory(value: unknown): unknown {
  const needsMove = (v: unknown) =>
    (ArrayBuffer.isView(v) && !isSharedView(v)) || v instanceof ArrayBuffer;
  if (needsMove(value)) return moveToShared(value as ArrayBufferView | ArrayBuffer);
  return substitute(value, needsMove, (v) => moveToShared(v as ArrayBufferView | ArrayBuffer));
}

function moveToShared(source: ArrayBufferView | ArrayBuffer): unknown {
  if (source instanceof ArrayBuffer) {
    const memory = new SharedArrayBuffer(source.byteLength);
    new Uint8Array(memory).set(new Uint8Array(source));
    return memory;
  }
  const memory = new SharedArrayBuffer(source.byteLength);
  new Uint8Array(memory).set(new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  const View = source.constructor as new (buffer: SharedArrayBuffer, offset?: number, length?: number) => ArrayBufferView;
  const length = (source as unknown as { length?: number }).length;
  return length === undefined ? new View(memory) : new View(memory, 0, length);
}

export class PersistedModel<T = unknown> {
  /** Identifies the value in every worker that holds it. */
  readonly id: string;
  readonly method: PersistMethod | undefined;
  #value: T | undefined;
  #hasValue: boolean;
  #shared: { value: unknown } | undefined;
  #file: string | undefined;
  #closed = false;
  /** The value holds functions or class instances: structured clone cannot carry it, the file (closure codec) can. */
  #needsCodec = false;
  /** true: this side frees the resources on close(); false: a copy in a worker; 'transfer': ownership passes on. */
  #owner: boolean | 'transfer';

  /** @internal Use persist(); workers make their handles from what the main thread sent. */
  constructor(id: string, method: PersistMethod | undefined, state: { value?: T; file?: string; owner: boolean }) {
    this.id = id;
    this.method = method;
    this.#hasValue = 'value' in state;
    this.#value = state.value;
    this.#file = state.file;
    this.#owner = state.owner;
  }

  /** The value: here, the one you persisted (its shared-memory form for method 'shm'); in a worker, rebuilt once and cached. */
  get(): T {
    if (this.#closed) {
      throw new Error(
        `PersistedModel ${this.id} was closed, so get() has no value. Close a persisted value after the runs that use it, or persist it again.`,
      );
    }
    if (!this.#hasValue && this.#file) {
      this.#value = fileCodec!.deserialize(readFileSync(this.#file)) as T;
      this.#hasValue = true;
    }
    return this.#value as T;
  }

  /** Free the shared memory or the file, and tell the workers to drop their copies. get() afterwards throws. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#value = undefined;
    this.#shared = undefined;
    if (this.#owner !== true) return;
    for (const holder of holders) holder.release([this.id]);
    if (this.#file) {
      ownedFiles.delete(this.#file);
      try {
        unlinkSync(this.#file);
        // A transferred file's folder belonged to the worker that wrote it: remove it once empty.
        if (dirname(this.#file) !== folder) rmdirSync(dirname(this.#file));
      } catch {
        /* already gone, or the folder holds other files */
      }
    }
  }

  /** Mark for ownership transfer: the side that receives this handle owns it (and frees it on close). */
  transfer(): this {
    this.#owner = 'transfer';
    // The receiver will own the file: this thread must not remove it when it exits.
    if (this.#file) ownedFiles.delete(this.#file);
    return this;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal What the main thread sends for this handle: shared memory, or a file. */
  payload(sharedMemory: boolean): { kind: 'shared'; value: unknown } | { kind: 'file'; path: string } {
    this.get();
    const method = this.method ?? (sharedMemory ? 'shm' : 'file');
    if (method === 'shm' && sharedMemory && !this.#needsCodec) {
      this.#shared ??= { value: toSharedMemory(this.#value) };
      return { kind: 'shared', value: this.#shared.value };
    }
    return { kind: 'file', path: this.writeFile() };
  }

  /** @internal Mark a value that only the closure codec can carry. */
  set needsCodec(value: boolean) {
    this.#needsCodec = value;
  }

  /** @internal The file holding the value, written once. */
  writeFile(): string {
    if (!this.#file) {
      const path = join(tempFolder(), `${this.id}.bin`);
      let bytes: Uint8Array | string;
      try {
        bytes = fileCodec!.serialize(this.get());
      } catch (error) {
        throw persistFailure(error instanceof Error ? error.message : String(error), error instanceof UnserializableValueError ? error.path : '', error);
      }
      writeFileSync(path, bytes);
      this.#file = path;
      if (this.#owner === true) own(path);
    }
    return this.#file;
  }

  /** @internal Whether the receiver of this handle takes ownership. */
  get transfers(): boolean {
    return this.#owner === 'transfer';
  }

  /** @internal The handle a receiver builds: owning when the sender transferred it. */
  static received<T>(id: string, state: { value?: T; file?: string }, owner: boolean): PersistedModel<T> {
    const handle = new PersistedModel<T>(id, undefined, { ...state, owner });
    if (owner && state.file) own(state.file);
    return handle;
  }
}

/**
 * Persist a value for sharing with workers: pass the handle to tasks and
 * call `get()` there. The handle serializes to a few bytes under every
 * serializer; the value crosses to each worker once.
 * @example
 * const model = persist(bigModel);
 * await parallel.run(items.map((x) => delayed((m, x) => m.get().predict(x))(model, x)));
 * model.close();
 */
export function persist<T>(value: T, options: PersistOptions = {}): PersistedModel<T> {
  const { method } = options;
  if (method !== undefined && method !== 'shm' && method !== 'file') {
    throw new RangeError(`Expected \`method\` to be 'shm', 'file' or undefined, got \`${String(method)}\``);
  }
  everPersisted = true;
  // Data goes by structured clone (shared memory on threads); functions and class instances need the closure codec, through the file.
  const needsCodec = someInGraph(value, (v) => typeof v === 'function' || isClassInstance(v));
  const shared = method === 'shm' && !needsCodec;
  const model = new PersistedModel<T>(randomUUID(), method, { value: shared ? (toSharedMemory(value) as T) : value, owner: true });
  model.needsCodec = needsCodec;
  // Persisting checks now that the value can travel, rather than in a worker later.
  if (method === 'file' || needsCodec) model.writeFile();
  else checkStructuredClone(value);
  return model;
}

let everPersisted = false;
/** False until the first persist(): before that, payloads need no scan for handles. */
export function anyPersisted(): boolean {
  return everPersisted;
}

function unclonable(value: object): string | undefined {
  if (types.isProxy(value)) return 'a Proxy cannot be shared';
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) return `a ${value.constructor.name} cannot be shared`;
  if (value instanceof Promise) return 'a Promise cannot be shared; await it first';
  return undefined;
}

function checkStructuredClone(value: unknown): void {
  if (!someInGraph(value, (v) => unclonable(v) !== undefined)) return;
  const found = findInGraph(value, (node) => {
    const reason = typeof node.value === 'object' && node.value !== null ? unclonable(node.value) : undefined;
    return reason ? { reason, path: formatPath('', node.path()) } : undefined;
  })!;
  throw persistFailure(found.reason, found.path);
}

function persistFailure(problem: string, path: string, cause?: unknown): SerializationError {
  return new SerializationError({
    phase: 'serialize-task',
    path: joinPath('value', path),
    serializer: 'auto',
    problem: `Cannot persist: ${problem}`,
    remedy: 'Persist the data the object holds, and build the object inside the task.',
    cause,
  });
}

export function isPersisted(value: unknown): value is PersistedModel {
  return value instanceof PersistedModel;
}
