/**
 * V8's serialization (what a process worker's IPC uses) with large binary parts moved out of
 * band: a typed array, DataView or Buffer of at least `INLINE_MAX_BYTES` in a job or a reply is
 * written as an index into a list of blobs, which travel through Redis by content address
 * (blobs.ts) while the job or reply itself stays small. The list goes in front of the bytes, so
 * the signature over the framed bytes covers each blob's hash.
 */
import { DefaultDeserializer, DefaultSerializer } from 'node:v8';
import { hashOf, INLINE_MAX_BYTES, type BlobRef } from './blobs.js';

/** A blob a message refers to, with its bytes (to store) until they are stored. */
export interface Extracted {
  ref: BlobRef;
  bytes: Uint8Array;
}

/** The view types a blob may stand for, by their index on the wire. */
const VIEWS = [Buffer, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, DataView, BigInt64Array, BigUint64Array] as const;
type ViewType = (typeof VIEWS)[number];

const INLINE = 0;
const OUT_OF_BAND = 1;

class Extracting extends DefaultSerializer {
  readonly blobs: Extracted[] = [];
  constructor(
    private readonly owner: string,
    private readonly inlineMax: number,
  ) {
    super();
  }

  _writeHostObject(view: ArrayBufferView): void {
    const type = VIEWS.findIndex((View) => view instanceof View);
    if (view.byteLength < this.inlineMax || type < 0) {
      this.writeUint32(INLINE);
      return (DefaultSerializer.prototype as unknown as { _writeHostObject(view: ArrayBufferView): void })._writeHostObject.call(this, view);
    }
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const hash = hashOf(bytes);
    let index = this.blobs.findIndex((blob) => blob.ref.hash === hash);
    if (index < 0) index = this.blobs.push({ ref: { owner: this.owner, hash, length: bytes.byteLength }, bytes }) - 1;
    this.writeUint32(OUT_OF_BAND);
    this.writeUint32(index);
    this.writeUint32(type);
  }
}

class Restoring extends DefaultDeserializer {
  constructor(
    buffer: Buffer,
    private readonly blobs: readonly Buffer[],
  ) {
    super(buffer);
  }

  _readHostObject(): unknown {
    if (this.readUint32() === INLINE) return (DefaultDeserializer.prototype as unknown as { _readHostObject(): unknown })._readHostObject.call(this);
    const bytes = this.blobs[this.readUint32()];
    const View = VIEWS[this.readUint32()];
    if (!bytes || !View) throw new Error('joblet: a message names a blob it did not list');
    return viewOn(View, bytes);
  }
}

/** The view over the blob's bytes (copied only when they are not aligned for the type). */
function viewOn(View: ViewType, bytes: Buffer): ArrayBufferView {
  if (View === Buffer) return bytes;
  if (View === DataView) return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = (View as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const aligned = bytes.byteOffset % size === 0 ? bytes : Buffer.from(bytes);
  const Typed = View as unknown as new (buffer: ArrayBufferLike, offset: number, length: number) => ArrayBufferView;
  return new Typed(aligned.buffer, aligned.byteOffset, aligned.byteLength / size);
}

/** `value` as framed bytes (the blob list, then V8's serialization) and the blobs it refers to. */
export function encodeFramed(value: unknown, owner: string, inlineMax = INLINE_MAX_BYTES): { bytes: Buffer; blobs: Extracted[] } {
  const serializer = new Extracting(owner, inlineMax);
  serializer.writeHeader();
  serializer.writeValue(value);
  const payload = serializer.releaseBuffer();
  const head = Buffer.from(JSON.stringify(serializer.blobs.map((blob) => blob.ref)));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(head.length);
  return { bytes: Buffer.concat([length, head, payload]), blobs: serializer.blobs };
}

/** The blobs framed bytes refer to: to fetch before `decodeFramed`. */
export function framedBlobs(bytes: Buffer): BlobRef[] {
  const length = bytes.readUInt32LE(0);
  const refs = JSON.parse(bytes.subarray(4, 4 + length).toString()) as BlobRef[];
  if (!Array.isArray(refs) || !refs.every((ref) => typeof ref?.owner === 'string' && /^[0-9a-f]{64}$/.test(ref.hash) && Number.isSafeInteger(ref.length))) {
    throw new Error('joblet: a message lists malformed blobs');
  }
  return refs;
}

/** The value of framed bytes, given the bytes of the blobs they list (in order, each checked against its hash). */
export function decodeFramed(bytes: Buffer, blobs: readonly Buffer[]): unknown {
  const length = bytes.readUInt32LE(0);
  const deserializer = new Restoring(bytes.subarray(4 + length), blobs);
  deserializer.readHeader();
  return deserializer.readValue();
}
