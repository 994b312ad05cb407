import type { BackendFactory } from '../types.js';
import { BullmqBackend } from './backend.js';

/** 'bullmq': batches as BullMQ jobs on Redis, run by `joblet worker` processes. bullmq itself loads on the first run. */
export const createBullmqBackend: BackendFactory = (options) => new BullmqBackend(options);
