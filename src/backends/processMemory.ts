/**
 * A child process's memory, as the processes backend sees it: the V8 flags its `resourceLimits`
 * become, the heap limit it runs under, and the tail of its stderr, where V8 prints
 * "JavaScript heap out of memory" before it aborts (the only trace of that death: no event,
 * no exit code of its own, a SIGABRT that any native crash could give).
 */
import type { Readable } from 'node:stream';
import type { WorkerResourceLimits } from './types.js';

/** What of the child's stderr is kept: enough for V8's last lines, bounded whatever the child prints. */
const TAIL_CHARS = 8192;
/** How long an exit waits for the rest of the child's stderr (a grandchild may hold the pipe open). */
const DRAIN_MS = 2000;
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
export class StderrTail {
  private tail = '';
  private readonly done: Promise<void>;

  constructor(private readonly stream: Readable | null) {
    if (!stream) {
      this.done = Promise.resolve();
      return;
    }
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      process.stderr.write(chunk);
      this.tail = (this.tail + chunk).slice(-TAIL_CHARS);
    });
    this.done = new Promise((resolve) => {
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    // Reading the pipe must not keep an idle pool's process alive (the IPC channel says when the child has work).
    (stream as Readable & { unref?(): void }).unref?.();
  }

  /** Resolves once the child's stderr has been read to its end (or after a short wait, if something else holds it open). */
  ended(): Promise<void> {
    if (!this.stream || this.stream.destroyed || this.stream.readableEnded) return Promise.resolve();
    // Waited for with the loop held open: the child is gone, and the crash it reports may be all a run waits for.
    (this.stream as Readable & { ref?(): void }).ref?.();
    let timer: NodeJS.Timeout | undefined;
    const capped = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DRAIN_MS);
    });
    return Promise.race([this.done, capped]).finally(() => clearTimeout(timer));
  }

  /** V8's out-of-memory line, when the child printed one last. */
  outOfMemoryLine(): string | undefined {
    const lines = this.tail.split('\n').filter((line) => OUT_OF_MEMORY.test(line));
    return lines.length ? lines[lines.length - 1]!.trim().slice(0, 300) : undefined;
  }
}
