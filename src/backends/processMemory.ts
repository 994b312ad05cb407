/**
 * A child process's memory, as the processes backend sees it: the V8 flags its `resourceLimits`
 * become, the heap limit it runs under, and the tail of its stderr, where V8 prints
 * "JavaScript heap out of memory" before it aborts (the only trace of that death: no event,
 * no exit code of its own, a SIGABRT that any native crash could give).
 */
import type { Readable } from 'node:stream';
import type { WorkerResourceLimits } from './types.js';
import { PipeTail } from './pipeTail.js';

/** What of the child's stderr is kept: enough for V8's last lines, bounded whatever the child prints. */
const TAIL_CHARS = 8192;
/** V8's words when a heap is full: "Reached heap limit", "Allocation failed - JavaScript heap out of memory". */
// The last: a heap too small for the child to start prints "Fatal javascript OOM in GC during deserialization".
const OUT_OF_MEMORY = /heap out of memory|Reached heap limit|Allocation failed|Fatal javascript OOM/i;
/** What V8 keeps aside at the top of a stack it is told the size of (Node does the same for a worker thread's). */
const STACK_BUFFER_KB = 192;

/**
 * `resourceLimits` as V8 flags for a child's `execArgv`. The young generation is three
 * semi-spaces in V8 (two, and the large-object space beside them), so a third of it is one
 * semi-space. There is no flag for `codeRangeSizeMb`.
 */
export function limitFlags(limits: WorkerResourceLimits | undefined): string[] {
  if (!limits) return [];
  const flags: string[] = [];
  if (limits.maxOldGenerationSizeMb !== undefined) flags.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`);
  if (limits.maxYoungGenerationSizeMb !== undefined) flags.push(`--max-semi-space-size=${Math.max(1, Math.round(limits.maxYoungGenerationSizeMb / 3))}`);
  if (limits.stackSizeMb !== undefined) flags.push(`--stack-size=${Math.max(64, Math.round(limits.stackSizeMb * 1024) - STACK_BUFFER_KB)}`);
  return flags;
}

/** The heap limit in megabytes that `execArgv` sets (the last `--max-old-space-size`), if any. */
export function heapLimitMb(execArgv: readonly string[]): number | undefined {
  let limit: number | undefined;
  for (let i = 0; i < execArgv.length; i++) {
    const match = /^--max[-_]old[-_]space[-_]size(?:=(\d+))?$/.exec(execArgv[i]!);
    if (!match) continue;
    const value = Number(match[1] ?? execArgv[i + 1]);
    if (Number.isFinite(value)) limit = value;
  }
  return limit;
}

/** Passes a child's stderr on to this process's stderr, and keeps its last characters. */
export class StderrTail extends PipeTail {
  constructor(stream: Readable | null) {
    super(stream, TAIL_CHARS, (chunk) => process.stderr.write(chunk));
  }

  /**
   * The child died reading a message from this process: Node's IPC deserializer ran out of stack
   * (a value nested more deeply than the child's stack allows, though this process could write it).
   * It throws inside Node's channel, where no handler of the child sees it: its stderr says so.
   */
  couldNotReadMessage(): boolean {
    return /Maximum call stack size exceeded/.test(this.text) && /parseChannelMessages|child_process\/serialization/.test(this.text);
  }

  /** V8's out-of-memory line, when the child printed one last. */
  outOfMemoryLine(): string | undefined {
    const lines = this.text.split('\n').filter((line) => OUT_OF_MEMORY.test(line));
    return lines.length ? lines[lines.length - 1]!.trim().slice(0, 300) : undefined;
  }
}
