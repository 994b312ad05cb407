import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { SerializationError } from '../errors.js';
import { getSerializer } from '../serialize/registry.js';
import { UnserializableValueError } from '../serialize/types.js';
import { noteReferenceInUse, ReferenceRefusal, type ReferenceKind } from '../values/byReference.js';
import { findInGraph, someInGraph } from '../values/graph.js';
import { isClassInstance, isSharedView } from '../values/kinds.js';
import { formatPath, joinPath } from '../values/paths.js';
import { substitute } from '../values/substitute.js';
import { unsendableReason } from '../values/unsendable.js';
import { disown, own, removeFile, tempPath } from './tempFiles.js';

/**
 * `persist()` and its handle (lenskit's `persist` and `PersistedModel`).
 * A value persisted once is sent to each worker once and rebuilt there once,
 * however many tasks use it: on threads through shared memory (no copy of
 * its typed arrays), on processes through a file read once per worker.
 */
export type PersistMethod = 'shm' | 'file';

/** How `persist` shares the value. */
export interface PersistOptions {
  /**
   * 'shm': typed arrays and ArrayBuffers inside the value move to shared
   * memory (threads see them without a copy; processes get a copy each).
   * 'file': the value is written once to a temporary folder and read once
   * per worker (JOBLET_TEMP_DIR, else the system's).
   * @default undefined: what the backend that receives it supports (shared memory on threads and inline, a file on processes)
   * @example persist(model, { method: 'file' })
   */
  method?: PersistMethod;
}


/**
 * Files are written with 'auto': data by structured clone, functions and class instances by the
 * closure codec. Looked up when needed: a worker loads its codecs on demand (registry.ts), and
 * loading 'closure' or a persisted file's def loads 'auto' too.
 */
const fileCodec = () => getSerializer('auto');

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

/**
 * A handle to a value `persist()` placed where every worker can read it: pass
 * the handle to tasks instead of the value, and close it when done.
 */
export class PersistedModel<T = unknown> {
  /** Identifies the value in every worker that holds it. */
  readonly id: string;
  /** Where the value's arrays live: 'shm', 'file', or undefined when the value holds none. */
  readonly method: PersistMethod | undefined;
  #value: T | undefined;
  #hasValue: boolean;
  #shared: { value: unknown } | undefined;
  #file: string | undefined;
  /** The value in the file codec's bytes: what a remote worker receives when structured clone cannot carry it. */
  #bytes: Uint8Array | string | undefined;
  #closed = false;
  /** The value holds functions or class instances: structured clone cannot carry it, the file (closure codec) can. */
  #needsCodec = false;
  /** true: this side frees the resources on close(); false: a copy in a worker; 'transfer': ownership passes on. */
  #owner: boolean | 'transfer';

  /** Use persist(); workers make their handles from what the main thread sent (PersistedModel.received). */
  /** @internal Is `value` a handle? A brand check: unlike instanceof, it runs no Proxy trap (a revoked one throws). */
  static holds(value: object): value is PersistedModel {
    return #value in value;
  }

  private constructor(id: string, method: PersistMethod | undefined, state: { value?: T; file?: string; bytes?: Uint8Array | string; owner: boolean }) {
    this.id = id;
    this.method = method;
    this.#hasValue = 'value' in state;
    this.#value = state.value;
    this.#file = state.file;
    this.#bytes = state.bytes;
    this.#owner = state.owner;
  }

  /** The value: here, the one you persisted (its shared-memory form for method 'shm'); in a worker, rebuilt once and cached. */
  get(): T {
    if (this.#closed) {
      throw new Error(
        `PersistedModel ${this.id} was closed, so get() has no value. Close a persisted value after the runs that use it, or persist it again.`,
      );
    }
    if (!this.#hasValue && (this.#file || this.#bytes !== undefined)) {
      this.#value = fileCodec().deserialize(this.#bytes ?? readFileSync(this.#file!)) as T;
      this.#bytes = undefined;
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
    this.#bytes = undefined;
    if (this.#owner !== true) return;
    for (const holder of holders) holder.release([this.id]);
    if (this.#file) removeFile(this.#file);
  }

  /** Mark for ownership transfer: the side that receives this handle owns it (and frees it on close). */
  transfer(): this {
    this.#owner = 'transfer';
    // The receiver will own the file: this thread must not remove it when it exits.
    if (this.#file) disown(this.#file);
    return this;
  }

  /** True once `close()` was called: the handle can no longer be sent. */
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

  /** @internal Whether only the closure codec carries the value (a remote worker then gets its bytes). */
  get needsCodec(): boolean {
    return this.#needsCodec;
  }

  /** @internal The file holding the value, written once. */
  writeFile(): string {
    if (!this.#file) {
      const path = tempPath(`${this.id}.bin`);
      writeFileSync(path, this.#bytes ?? this.encode());
      this.#file = path;
      if (this.#owner === true) own(path);
    }
    return this.#file;
  }

  /** @internal The value in the file codec's bytes, made once: what a worker on another machine receives. */
  encoded(): Uint8Array | string {
    return (this.#bytes ??= this.encode());
  }

  private encode(): Uint8Array | string {
    try {
      return fileCodec().serialize(this.get());
    } catch (error) {
      throw persistFailure(error instanceof Error ? error.message : String(error), error instanceof UnserializableValueError ? error.path : '', error);
    }
  }

  /** @internal Whether the receiver of this handle takes ownership. */
  get transfers(): boolean {
    return this.#owner === 'transfer';
  }

  /** @internal A handle of this process's own, made by persist(). */
  static made<T>(id: string, method: PersistMethod | undefined, value: T): PersistedModel<T> {
    return new PersistedModel<T>(id, method, { value, owner: true });
  }

  /** @internal The handle a receiver builds: owning when the sender transferred it. */
  static received<T>(id: string, state: { value?: T; file?: string; bytes?: Uint8Array | string }, owner: boolean): PersistedModel<T> {
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
  noteReferenceInUse();
  // Data goes by structured clone (shared memory on threads); functions and class instances need the closure codec, through the file.
  const needsCodec = someInGraph(value, (v) => typeof v === 'function' || isClassInstance(v));
  const shared = method === 'shm' && !needsCodec;
  const model = PersistedModel.made<T>(randomUUID(), method, shared ? (toSharedMemory(value) as T) : value);
  model.needsCodec = needsCodec;
  // Persisting checks now that the value can travel, rather than in a worker later.
  if (method === 'file' || needsCodec) model.writeFile();
  else checkStructuredClone(value);
  return model;
}

function checkStructuredClone(value: unknown): void {
  if (!someInGraph(value, (v) => unsendableReason(v) !== undefined)) return;
  const found = findInGraph(value, (node) => {
    const reason = unsendableReason(node.value);
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

/** Backends that may hold persisted values, told to drop them when a handle closes. */
const holders = new Set<{ release(ids: readonly string[]): void }>();
export function trackHolder(holder: { release(ids: readonly string[]): void }): () => void {
  holders.add(holder);
  return () => holders.delete(holder);
}

type PersistedState = { value: unknown } | { file: string } | { bytes: Uint8Array | string };

/**
 * By reference: a persisted handle. Sent once per worker: its shared memory (threads), its file
 * (processes), or the value itself (inline; and to a worker on another machine, the value or,
 * when only the closure codec carries it, its bytes: the transport moves them once per worker).
 * Workers keep it until the handle is closed.
 */
export const persistedKind: ReferenceKind<PersistedModel, PersistedState> = {
  name: 'persisted',
  matches: (value): value is PersistedModel => PersistedModel.holds(value),
  send(handle, { sharedMemory, sameThread, remote }) {
    if (handle.closed) {
      throw new ReferenceRefusal(`PersistedModel ${handle.id} was closed before the task was submitted`, 'Close a persisted value after the runs that use it, or persist it again.');
    }
    if (remote) return { id: handle.id, state: handle.needsCodec ? { bytes: handle.encoded() } : { value: handle.get() }, runScoped: false };
    const payload = sameThread ? { kind: 'shared' as const, value: handle.get() } : handle.payload(sharedMemory);
    return { id: handle.id, state: payload.kind === 'shared' ? { value: payload.value } : { file: payload.path }, runScoped: false };
  },
  // The file is read on the first get(), once per worker: the handle is what is kept.
  rebuild: (state, id) => PersistedModel.received(id, state, false),
  serializers: (state) => ('value' in state ? [] : ['auto']),
  // Inside a closure or a result: its file, which any worker or the main thread can read.
  inGraph: {
    encode: (handle) => ({ id: handle.id, file: handle.writeFile(), owner: handle.transfers }),
    decode: ({ id, file, owner }: { id: string; file: string; owner: boolean }) => PersistedModel.received(id, { file }, owner),
  },
};
