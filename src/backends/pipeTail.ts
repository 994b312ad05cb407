import type { Readable } from 'node:stream';

/** How long an exit waits for the rest of a child's pipe (a grandchild may hold it open). */
const DRAIN_MS = 2000;

/**
 * The last characters a child process writes on one of its pipes (its stderr, its progress pipe),
 * read to the end once the child is gone: a crash report may need the child's last words.
 */
export class PipeTail {
  /** The last `keep` characters read so far. */
  text = '';
  private readonly done: Promise<void>;

  /** `echo` sees each chunk as it comes (stderr passes it on). */
  constructor(
    private readonly stream: Readable | null,
    keep: number,
    echo?: (chunk: string) => void,
  ) {
    if (!stream) {
      this.done = Promise.resolve();
      return;
    }
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      echo?.(chunk);
      this.text = (this.text + chunk).slice(-keep);
    });
    this.done = new Promise((resolve) => {
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    // Reading the pipe must not keep an idle pool's process alive (the IPC channel says when the child has work).
    (stream as Readable & { unref?(): void }).unref?.();
  }

  /** Resolves once the pipe is read to its end (or after a short wait, if something else holds it open). */
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
}
