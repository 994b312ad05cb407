import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WorkerPool, type SpawnWorker } from './pool.js';
import type { BackendFactory, WorkerResourceLimits } from './types.js';
import { REPORT_MEMORY_ARG } from '../runtime/memory.js';
import type { Readable } from 'node:stream';
import { StderrTail, heapLimitMb, limitFlags } from './processMemory.js';
import { PipeTail } from './pipeTail.js';
import { PROGRESS_FD, parseProgress } from '../runtime/progress.js';

const entry = fileURLToPath(new URL('../runtime/processWorker.js', import.meta.url));

/**
 * The parent's Node flags, minus those that would change what the child runs:
 * `-e`/`-p` (with their code) would run the parent's script instead of the
 * worker runtime, `--watch` and `--test` change the process's mode, and
 * `--inspect` would fight over the debugger port. Loaders and memory limits
 * (`--import`, `--max-old-space-size`) are kept.
 */
const DROP_WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '--input-type', '--watch-path']);
const DROP = /^(-i|--interactive|--watch(-path)?|--test(-.*)?|--inspect(-.*)?|--debug(-.*)?|(--eval|--print|--input-type|--watch-path)=.*)$/;

function childExecArgv(parent: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const arg = parent[i]!;
    if (DROP_WITH_VALUE.has(arg)) i++;
    else if (!DROP.test(arg.split('=')[0]!) && !DROP.test(arg)) kept.push(arg);
  }
  return kept;
}

/** How each child of a pool starts. */
interface ProcessSetup {
  resourceLimits?: WorkerResourceLimits | undefined;
  /** The child adds its heap in use to each reply (the pool recycles by memory). */
  reportMemory?: boolean | undefined;
}

const processSpawner = (setup: ProcessSetup): SpawnWorker => (events) => {
  // The limits come after the parent's flags: V8 takes the last of a repeated flag.
  const execArgv = [...childExecArgv(process.execArgv), ...limitFlags(setup.resourceLimits)];
  // 'advanced' IPC uses V8's serializer, so Uint8Array payloads cross without base64. The child's
  // stderr comes through this process, where its tail is kept: V8 says "heap out of memory" there
  // and nowhere else before it aborts.
  // The fifth: where the child was in its batch, written as it exits (runtime/progress.ts).
  const child = fork(entry, setup.reportMemory ? [REPORT_MEMORY_ARG] : [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc', 'pipe'], execArgv });
  const stderr = new StderrTail(child.stderr);
  // What the child writes on its progress pipe: a line as it exits.
  const progress = new PipeTail(child.stdio[PROGRESS_FD] as Readable | null, 200);
  let reason: string | undefined;
  let exited = false;
  const exitOnce = (code: number | null, signal: string | null) => {
    if (exited) return;
    exited = true;
    // What the child printed last may still be in the pipe: read it to the end first.
    void Promise.all([stderr.ended(), progress.ended()]).then(() => {
      const last = parseProgress(progress.text);
      const outOfMemory = code === 0 ? undefined : stderr.outOfMemoryLine();
      if (outOfMemory) return events.exit({ code, signal, reason: reason ?? outOfMemory, outOfMemory: true, memoryLimitMb: heapLimitMb(execArgv), progress: last });
      if (code !== 0 && stderr.couldNotReadMessage()) return events.exit({ code, signal, reason: reason ?? 'RangeError: Maximum call stack size exceeded', unreadable: true, progress: last });
      events.exit({ code, signal, reason, progress: last });
    });
  };
  child.on('message', (message: { type: string; message?: string }) => {
    if (message.type === 'fatal') reason = message.message;
    else events.message(message as never);
  });
  child.on('exit', (code, signal) => exitOnce(code, signal));
  child.on('error', (error) => {
    reason = error.message;
    // A child that never started emits 'error' without 'exit'.
    if (child.pid === undefined) exitOnce(null, null);
  });
  // The IPC channel is a handle of its own: it has to be unref'd too for an idle pool to let the process exit.
  const channel = () => child.channel as unknown as { ref(): void; unref(): void } | undefined;
  const unref = () => {
    child.unref();
    channel()?.unref();
  };
  unref();
  return {
    send: (message) => {
      if (child.connected) child.send(message);
    },
    ref: () => {
      child.ref();
      channel()?.ref();
    },
    unref,
    terminate: () =>
      new Promise<void>((resolve) => {
        if (exited || child.exitCode !== null || child.signalCode !== null) return resolve();
        // Hold the process open until the child is gone, or close() would resolve into an exited process.
        child.ref();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
};

/** child_process.fork: full isolation (its own heap and globals), slower to start and to message. */
export const createProcessesBackend: BackendFactory = ({ nWorkers, perWorkerBufferSize, resourceLimits, maxTasksPerWorker, maxWorkerMemory }) =>
  new WorkerPool(
    'processes',
    nWorkers,
    { sharedMemory: false, isolation: 'process', clonesMessages: true, readsFiles: true },
    processSpawner({ resourceLimits, reportMemory: maxWorkerMemory !== undefined }),
    { perWorkerBufferSize, maxTasksPerWorker, maxWorkerMemory },
  );
