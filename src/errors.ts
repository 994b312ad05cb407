/**
 * One error family. Every error a task can produce is a `JobletError`, and
 * each kind names what happened, where, and what to do about it.
 */

/** Where a serialization failure happened. */
export type SerializationPhase =
  | 'serialize-task'
  | 'deserialize-task'
  | 'serialize-result'
  | 'deserialize-result';

const PHASE_TEXT: Record<SerializationPhase, string> = {
  'serialize-task': 'serializing the task',
  'deserialize-task': 'deserializing the task in the worker',
  'serialize-result': 'serializing the result in the worker',
  'deserialize-result': 'deserializing the result',
};

/** @internal The phase in words, for messages: 'serializing the task'. */
export function describePhase(phase: SerializationPhase): string {
  return PHASE_TEXT[phase];
}

/** Base class: `instanceof JobletError` catches every error joblet raises for a task. */
export class JobletError extends Error {
  /** Index of the task in submission order, when the error belongs to one task. */
  taskIndex: number | undefined;

  constructor(message: string, options?: { taskIndex?: number | undefined; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.taskIndex = options?.taskIndex;
  }
}

/** What a worker reports when a task throws. */
export interface ThrownRecord {
  /** True when the task threw an Error (or subclass); false for `throw 'text'` and the like. */
  isError: boolean;
  /** The error's name (`TypeError`), or the thrown value's type. */
  name: string;
  /** The error's message, or the thrown value as text. */
  message: string;
  /** The stack as the worker saw it, with the user's file and line. */
  stack: string | undefined;
  /** Own enumerable properties of the thrown error (e.g. `code`), where the serializer carried them. */
  properties: Record<string, unknown>;
  /** The thrown value itself when it was not an Error. */
  value?: unknown;
  /** Set when the serializer could not carry the custom properties. */
  propertiesLost?: string;
}

/** The task's own code threw (or its promise rejected). */
export class TaskError extends JobletError {
  /** `name` of the thrown error in the worker (`RangeError`, `MyError`, ...). */
  readonly originalName: string;
  /** `message` of the thrown error in the worker. */
  readonly originalMessage: string;
  /** The stack as the worker saw it. */
  readonly workerStack: string | undefined;
  /** Custom own properties of the thrown error (`code`, `status`, ...). */
  readonly properties: Record<string, unknown>;
  /** The thrown value when it was not an Error (a string, a number, ...). */
  readonly thrownValue: unknown;
  /** False when the task threw something other than an Error (`throw 'text'`). */
  readonly isError: boolean;
  /** Why `properties` is empty although the thrown error had some: the serializer could not carry them. */
  readonly propertiesLost: string | undefined;

  /**
   * The main thread's stack where the failed run was awaited (in the `stack` too, as its second
   * section): joblet adds it when the failure reaches the caller, as V8's async stack shows it.
   */
  readonly runStack: string | undefined;

  /** `runStack`: where the run was called or awaited. */
  constructor(taskIndex: number, record: ThrownRecord, runStack?: string) {
    const what = record.isError ? `${record.name}: ${record.message}` : `a non-Error value: ${record.message}`;
    super(`Task ${taskIndex} threw ${what}`, { taskIndex });
    this.originalName = record.name;
    this.originalMessage = record.message;
    this.workerStack = record.stack;
    this.properties = record.properties;
    this.thrownValue = record.value;
    this.isError = record.isError;
    this.propertiesLost = record.propertiesLost;
    // Copy custom fields (`code`, `status`) for convenience, never over TaskError's own.
    for (const [key, value] of Object.entries(record.properties)) if (!(key in this)) (this as Record<string, unknown>)[key] = value;
    this.runStack = runStack;
    composeStack(this, runStack);
  }
}

/**
 * A failure's stack in sections: the worker's stack, then where the run was called (its first
 * line, the captured message, dropped); the message alone when there is neither.
 */
function composeStack(error: TaskError | InitializerError, runStack: string | undefined): void {
  const calledAt = runStack ? `\n    --- run() called ---\n${runStack.slice(runStack.indexOf('\n') + 1)}` : '';
  if (error.workerStack) error.stack = `${error.name}: ${error.message}\n    --- in the worker ---\n${error.workerStack}${calledAt}`;
  // Without either, V8's stack would be where joblet made the error (its BatchWire): the message alone.
  else error.stack = `${error.name}: ${error.message}${calledAt}`;
}

/**
 * Adds where the run was awaited to a failure made without it. A stack captured at every run()
 * cost 4-6 us (a fifth of a single task's round trip): joblet captures one when a failure reaches
 * the caller instead, inside the function the caller awaits, where V8's async stack names the
 * caller's `await`.
 */
export function addRunStack(error: TaskError | InitializerError, runStack: string): void {
  if (error.runStack !== undefined) return;
  (error as { runStack: string | undefined }).runStack = runStack;
  composeStack(error, runStack);
}

/** The fields a SerializationError is made from, and what a worker sends to rebuild one. */
/** What a SerializationError says, field by field. */
export interface SerializationErrorDetails {
  /** When it failed: submitting the task, rebuilding it in the worker, encoding or decoding the result. */
  phase: SerializationPhase;
  /** Path inside the value: `args[1].onItem`, `fn`, `result.items[3]`. */
  path: string;
  /** Name of the serializer that failed. */
  serializer: string;
  /** What went wrong, in one sentence. */
  problem: string;
  /** What to do instead. */
  remedy: string;
  /** The task's index in submission order, when one task is concerned. */
  taskIndex?: number | undefined;
  /** The serializer's own error. */
  cause?: unknown;
}

/** A value could not be turned into bytes, or bytes back into a value. */
export class SerializationError extends JobletError {
  /** Which of the four encode or decode steps failed. */
  readonly phase: SerializationPhase;
  /** Path inside the value: `args[1].onItem`, `fn`, `result.items[3]`; empty for the value itself. */
  readonly path: string;
  /** Name of the serializer that failed. */
  readonly serializer: string;
  /** What went wrong, in one sentence. */
  readonly problem: string;
  /** What to do instead. */
  readonly remedy: string;

  constructor(details: SerializationErrorDetails) {
    const task = details.taskIndex === undefined ? '' : `task ${details.taskIndex}, `;
    super(
      `${details.problem} (${task}${describePhase(details.phase)}, at ${details.path || '<root>'}, ` +
        `serializer '${details.serializer}'). ${details.remedy}`,
      { taskIndex: details.taskIndex, cause: details.cause },
    );
    this.phase = details.phase;
    this.path = details.path;
    this.serializer = details.serializer;
    this.problem = details.problem;
    this.remedy = details.remedy;
  }

  /** The fields this error was made from: `new SerializationError(error.toDetails())` makes it again. */
  toDetails(): SerializationErrorDetails {
    return {
      phase: this.phase,
      path: this.path,
      serializer: this.serializer,
      problem: this.problem,
      remedy: this.remedy,
      taskIndex: this.taskIndex,
      cause: this.cause,
    };
  }
}

/** A worker died (process.exit, an uncaught exception outside a task, out of memory, a signal). */
export class WorkerCrashedError extends JobletError {
  /** The worker's exit code; null when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended the worker (`'SIGKILL'`), or null. */
  readonly signal: string | null;
  /**
   * The task the worker was running when it died (one: a worker runs its batch's tasks one after
   * another). Every task of the batch when the worker could not say where it was (a child process
   * killed by a signal or out of memory), none when it died between two tasks.
   */
  readonly taskIndices: number[];
  /** Name of the backend the worker belonged to. */
  readonly backend: string;
  /** True when the worker died because its heap was full (a thread's ERR_WORKER_OUT_OF_MEMORY, a process's "heap out of memory"). */
  readonly outOfMemory: boolean;
  /** The worker's heap limit in megabytes, when one was set (`resourceLimits.maxOldGenerationSizeMb`, `--max-old-space-size`). */
  readonly memoryLimitMb: number | undefined;
  /**
   * Tasks of the same batch that had finished before the worker died: their results were lost with
   * it (a batch answers in one reply). They ran, so they are not run again; a settled run gives each
   * of them this error as its entry.
   */
  readonly resultsLost: number[];
  /**
   * Tasks of the same batch that had not started when the worker died. A settled run sends them to
   * a worker again (they never ran); a run that stops at the first failure cancels them.
   */
  readonly notStarted: number[];
  /**
   * The task whose timer, immediate or tick threw the exception the worker died of, when one did:
   * it may differ from the task running then (`taskIndices`), and may belong to an earlier batch.
   */
  readonly thrownBy: number | undefined;

  constructor(info: {
    backend: string;
    exitCode: number | null;
    signal: string | null;
    taskIndices: number[];
    reason?: string | undefined;
    /** The worker died before its runtime was ready: the task never started. */
    duringStartup?: boolean | undefined;
    /** The worker ran out of memory. */
    outOfMemory?: boolean | undefined;
    /** Its heap limit in megabytes, when known. */
    memoryLimitMb?: number | undefined;
    /** It died reading the batch this side sent: a value nested too deeply for its stack. */
    unreadable?: boolean | undefined;
    /** Tasks of the batch that had finished: their results died with the worker. */
    resultsLost?: number[] | undefined;
    /** Tasks of the batch that had not started. */
    notStarted?: number[] | undefined;
    /** The task whose scheduled callback threw what the worker died of. */
    thrownBy?: number | undefined;
  }) {
    const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.exitCode}`;
    const resultsLost = info.resultsLost ?? [];
    const notStarted = info.notStarted ?? [];
    const tasks = info.taskIndices.length ? `task ${info.taskIndices.join(', ')}` : resultsLost.length ? 'no task (between two of its batch)' : 'no task';
    const reason = info.reason ? ` (${info.reason})` : '';
    const list = (indices: number[]) => `${indices.length > 1 ? 'tasks' : 'task'} ${indices.join(', ')}`;
    const thrownBy = info.thrownBy === undefined ? '' : info.taskIndices.length === 1 && info.taskIndices[0] === info.thrownBy
      ? ` The exception was thrown by a callback task ${info.thrownBy} scheduled (a timer, an immediate or a tick).`
      : ` The exception was thrown by a callback task ${info.thrownBy} scheduled (a timer, an immediate or a tick)${info.taskIndices.length ? `, not by ${list(info.taskIndices)}, running then` : ''}.`;
    const batch =
      thrownBy +
      (resultsLost.length ? ` In the same batch, ${list(resultsLost)} had finished, but ${resultsLost.length > 1 ? 'their results were' : 'its result was'} lost with the worker (not run again: ${resultsLost.length > 1 ? 'they' : 'it'} ran).` : '') +
      (notStarted.length ? ` ${resultsLost.length ? '' : 'In the same batch, '}${list(notStarted)} had not started (a settled run runs ${notStarted.length > 1 ? 'them' : 'it'} on another worker).` : '');
    super(
      info.outOfMemory
        ? `A ${info.backend} worker ran out of memory${outOfMemoryLimit(info.memoryLimitMb)} while ${info.duringStartup ? 'starting, before it could run' : 'running'} ${tasks}${reason}; ` +
            'the worker was replaced, and the task did not finish. ' +
            'Raise the limit (the option `resourceLimits: { maxOldGenerationSizeMb }`), or make the task hold less at once ' +
            '(split it, stream its data, share large inputs with persist() or sharedArray()).' + batch
        : info.unreadable
          ? `A ${info.backend} worker ${how}${reason} while reading the batch of ${tasks}, before any of them started: ` +
            'an argument is nested more deeply (arrays, objects, Maps or Sets within one another) than the worker\'s stack can read, though this process could write it. ' +
            'The worker was replaced. Flatten the value (a list of records with the index of their parent, say, instead of a chain of nested ones), ' +
            'build the nesting inside the task, or use the threads backend, whose workers read it with a larger stack.'
        : info.duringStartup
          ? `A ${info.backend} worker ${how}${reason} while starting, before it could run ${tasks}. ` +
            "Check the worker's environment: Node flags (execArgv), loaders, and modules imported at start."
          : `A ${info.backend} worker ${how}${reason} while running ${tasks}; ` +
            'the worker was replaced, and the task did not finish. ' +
            'Look for process.exit(), an error thrown from a timer or event handler, or memory exhaustion in the task.' + batch,
      { taskIndex: info.taskIndices[0] ?? resultsLost[0] },
    );
    this.resultsLost = resultsLost;
    this.notStarted = notStarted;
    this.thrownBy = info.thrownBy;
    this.exitCode = info.exitCode;
    this.signal = info.signal;
    this.taskIndices = info.taskIndices;
    this.backend = info.backend;
    this.outOfMemory = info.outOfMemory ?? false;
    this.memoryLimitMb = info.memoryLimitMb;
  }
}

function outOfMemoryLimit(limitMb: number | undefined): string {
  return limitMb === undefined ? ' (no heap limit was set: it reached V8\'s default)' : ` (its heap limit: ${limitMb} MB)`;
}

/** A task ran longer than the `timeout` option allows. */
export class TimeoutError extends JobletError {
  /** The `timeout` option the task went over, in milliseconds. */
  readonly timeoutMs: number;

  constructor(taskIndex: number, timeoutMs: number) {
    super(
      `Task ${taskIndex} did not finish within ${timeoutMs} ms (option \`timeout\`), counted from when a worker started it. ` +
        'Its worker was stopped and will be replaced (on the inline backend, code already running cannot be stopped). ' +
        'Raise `timeout` or split the task.',
      { taskIndex },
    );
    this.timeoutMs = timeoutMs;
  }
}

/** Work was cancelled: the pool was closed, or the consumer left a generator early. */
export class AbortError extends JobletError {
  constructor(message: string, options?: { taskIndex?: number; cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A promise a task left behind rejected with no handler (`Promise.reject(e)` never awaited, a
 * fire-and-forget async call that threw). Node would kill the worker; joblet reports it as that
 * task's failure instead, and the worker stays. `within` says how sure the attribution is: true
 * when the promise was made while the task ran (or chained from one that was), false when it was
 * made after the task returned: in work the task left (its timer, the rest of an async call it did
 * not await), or in a callback that carries no task (I/O), where the task is only the last one the
 * worker started.
 */
export class UnhandledRejectionError extends TaskError {
  /** The promise was made while the task ran: the task is the one that left it. */
  readonly within: boolean;

  /** `within`: see the class; `runStack`: where the run was called. */
  constructor(taskIndex: number, record: ThrownRecord, within: boolean, runStack?: string) {
    super(taskIndex, record, runStack);
    const what = record.isError ? `${record.name}: ${record.message}` : `a non-Error value: ${record.message}`;
    const message = within
      ? `Task ${taskIndex} left a promise that rejected with no handler: ${what}. Await the promise (or return it) or add .catch() to it`
      : `A promise rejected with no handler in the worker during or after task ${taskIndex}: ${what}. Await the promises a task starts (or .catch() them) before it returns`;
    const old = `${this.name}: ${this.message}`;
    this.message = message;
    if (this.stack?.startsWith(old)) this.stack = `${this.name}: ${message}${this.stack.slice(old.length)}`;
    this.within = within;
  }
}

/**
 * The `initializer` option threw (or its promise rejected) in a worker, before that worker's first
 * task: no task of the batch ran. Its `phase` is 'initializer'; its stack shows the worker's.
 */
export class InitializerError extends JobletError {
  /** Always 'initializer': the phase that failed. */
  readonly phase = 'initializer' as const;
  /** `name` of what the initializer threw. */
  readonly originalName: string;
  /** `message` of what the initializer threw. */
  readonly originalMessage: string;
  /** The stack as the worker saw it. */
  readonly workerStack: string | undefined;
  /** Indices of the tasks that were to run after it and did not. */
  readonly taskIndices: number[];
  /** The main thread's stack where the failed run was awaited (see TaskError's). */
  readonly runStack: string | undefined;

  /** `record`: what the initializer threw, as the worker saw it. */
  constructor(taskIndices: number[], record: ThrownRecord, runStack?: string) {
    const what = record.isError ? `${record.name}: ${record.message}` : `a non-Error value: ${record.message}`;
    super(
      `The initializer threw ${what} (phase 'initializer', in a worker, before task ${taskIndices.join(', ')}); those tasks did not run. ` +
        'Fix the initializer (the option `initializer`): it runs once per worker before its first task, and again in a worker that replaces one, or in the next run.',
      { taskIndex: taskIndices[0] },
    );
    this.originalName = record.name;
    this.originalMessage = record.message;
    this.workerStack = record.stack;
    this.taskIndices = taskIndices;
    this.runStack = runStack;
    composeStack(this, runStack);
  }
}
