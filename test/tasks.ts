/**
 * Task functions the behaviour tests send to workers. They travel as source, so each one uses
 * only its arguments and globals.
 */

export const square = (x: number) => x * x;

export const slowEcho = (x: number, ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), ms));

export const doubleAsync = async (x: number) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return x * 2;
};

export const whereAmI = async () => {
  const { threadId } = await import('node:worker_threads');
  return `${process.pid}:${threadId}`;
};

// Appends its index to a file, then waits (an unref'd timer, so an abandoned inline task cannot hold the test process).
export const markAndWait = async (i: number, file: string, ms: number) => {
  const fs = await import('node:fs');
  fs.appendFileSync(file, `${i}\n`);
  await new Promise((resolve) => setTimeout(resolve, ms).unref());
  return i;
};
