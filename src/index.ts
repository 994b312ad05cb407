// The public surface: re-exports only (and the built-in serializers, registered at import).
import './serialize/builtins/index.js';
import './sharing/kinds.js';

export { Parallel, type RunResult, type ResultOf } from './parallel/Parallel.js';
export { delayed, type Task } from './parallel/delayed.js';
export { parallelConfig, noParallel, parallelEnabled } from './parallel/config.js';
export { cpuCount, effectiveNJobs } from './parallel/njobs.js';
export { workerState } from './runtime/workerState.js';
export type { ConfigOptions, ParallelOptions, ReturnAs, RunOptions, Settled, Shaped, TaskFailure } from './parallel/options.js';
export type { Progress, ProgressOptions } from './parallel/progress.js';
export type { ParallelStats, PhaseStats } from './parallel/profiler.js';

export {
  registerSerializer,
  getSerializer,
  listSerializers,
  setDefaultSerializer,
  getDefaultSerializer,
  type RegisterSerializerOptions,
  type SerializerName,
} from './serialize/registry.js';
export { UnserializableValueError, type Serializer, type SerializerCapabilities } from './serialize/types.js';
export { wrapNonSerializable } from './serialize/wrap.js';

export { compareSerializers } from './compare/compareSerializers.js';
export { formatComparisonTable } from './compare/formatTable.js';
export type { CompareOptions, Carried, ComparisonError, FidelityDifference, SerializerComparison } from './compare/types.js';

export { persist, PersistedModel, type PersistMethod, type PersistOptions } from './sharing/persisted.js';
export { sharedArray, type TypedArrayConstructor } from './sharing/sharedArray.js';
export { Counter, type CounterOptions } from './sharing/counter.js';

export { registerBackend, listBackends, type BackendName } from './backends/registry.js';
export type { Backend, BackendCapabilities, BatchDuration, BackendFactory, BackendOptions, BatchEvents, WorkerResourceLimits } from './backends/types.js';
export { TransportRefusedError } from './backends/types.js';
export type { Bytes, WireBatch, WireReply, WireResult, WireDef, WireTask, WireSerializationFailure } from './runtime/protocol.js';
export type { SourceForm } from './source/sourceForm.js';

export {
  JobletError,
  TaskError,
  SerializationError,
  WorkerCrashedError,
  TimeoutError,
  AbortError,
  UnhandledRejectionError,
  InitializerError,
  type SerializationPhase,
  type SerializationErrorDetails,
  type ThrownRecord,
} from './errors.js';
