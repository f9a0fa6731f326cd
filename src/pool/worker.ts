// Pool worker entry. Instantiates the kernel once, over the shared memory the
// main thread created, and then runs batches in place. Nothing per task is
// allocated beyond the tiny result object.
import { workerData } from 'node:worker_threads';
import { KernelInstance } from '../kernel/host.js';
import { runBatch } from './run-batch.js';
import type { BatchTask, BatchResult, WorkerData } from './messages.js';

const data = workerData as WorkerData;
const kernel = new KernelInstance(data.memory, data.module);

export default function batch(task: BatchTask): BatchResult {
  if (task.fault !== undefined && data.allowFaultInjection) injectFault(task.fault);
  return runBatch(kernel.exports, task);
}

function injectFault(kind: NonNullable<BatchTask['fault']>): void {
  if (kind === 'exit') process.exit(70); // ends this worker thread only
  if (kind === 'throw') throw new Error('injected worker fault');
  // 'hang': spin until the pool's time budget terminates this thread.
  for (;;) { /* spin */ }
}
