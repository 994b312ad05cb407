/**
 * What a worker reports of its memory when its pool recycles workers by memory
 * (`maxWorkerMemory`): the heap in use of this worker's own V8 isolate plus its external
 * memory (ArrayBuffers, Buffers). The process's RSS would not do for a worker thread, which
 * shares it with the main thread and every other worker. Costs about a microsecond, paid only
 * by a pool that asked (the flag below).
 */
import { getHeapStatistics } from 'node:v8';

/** The process argument that asks a child process to report its memory with each reply. */
export const REPORT_MEMORY_ARG = '--joblet-report-memory';

/** Bytes in use by this isolate: used heap and external memory. */
export function heapInUse(): number {
  const stats = getHeapStatistics();
  return stats.used_heap_size + stats.external_memory;
}
