import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WorkerPool, type SpawnWorker } from './pool.js';
import type { BackendFactory } from './types.js';

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

const spawnProcess: SpawnWorker = (events) => {
  // 'advanced' IPC uses V8's serializer, so Uint8Array payloads cross without base64.
  const child = fork(entry, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: childExecArgv(process.execArgv) });
  let reason: string | undefined;
  let exited = false;
  const exitOnce = (code: number | null, signal: string | null) => {
    if (exited) return;
    exited = true;
    events.exit({ code, signal, reason });
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
export const createProcessesBackend: BackendFactory = ({ nWorkers, perWorkerBufferSize }) =>
  new WorkerPool('processes', nWorkers, { sharedMemory: false, isolation: 'process', clonesMessages: true }, spawnProcess, perWorkerBufferSize);
