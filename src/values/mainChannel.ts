/**
 * How values in a worker speak to the main thread, outside any batch's reply: a Counter's
 * increment from a child process, the lines a Counter prints. The worker runtime connects it
 * once, at start; in the main thread it stays unconnected and lines go to stderr.
 */
export interface MainChannel {
  /** A message for the by-reference kind `kind` on the main side (ReferenceKind.receive). */
  post(kind: string, body: unknown): void;
  /** A line for the main thread's stderr, ahead of the batch's reply. */
  log(text: string): void;
}

let channel: MainChannel | undefined;

/** Called once by a worker runtime. */
export function connectToMain(connection: MainChannel): void {
  channel = connection;
}

/** The channel to the main thread, or undefined in the main thread itself. */
export function mainChannel(): MainChannel | undefined {
  return channel;
}

/** Write a line where the main thread's stderr gets it: through the channel in a worker, directly here. */
export function logLine(text: string): void {
  if (channel) channel.log(text);
  else process.stderr.write(text);
}
