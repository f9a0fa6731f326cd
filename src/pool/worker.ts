// Pool worker entry. Instantiates the kernel once, over the shared memory the
// main thread created. Its one task is `serve`: a loop that waits on the
// worker's doorbell channel (see channel.ts) and runs each batch in place in
// the shared memory. The loop blocks this thread in Atomics.wait between
// batches; Piscina can still terminate it at any time (worker.terminate()
// interrupts a wait).
import { workerData } from 'node:worker_threads';
import { KernelInstance } from '../kernel/host.js';
import { runBatch } from './run-batch.js';
import { ChannelView, CH_REQ, CH_DONE, CH_READY, CH_CLAIM, STOP_SEQ } from './channel.js';
import type { BatchTask, WorkerData } from './messages.js';

const data = workerData as WorkerData;
const kernel = new KernelInstance(data.memory, data.module);

export interface ServeTask {
  channel: SharedArrayBuffer;
}

export default function serve(task: ServeTask): string {
  const ch = new ChannelView(task.channel);
  const c = ch.i;
  let seen = Atomics.load(c, CH_DONE);
  Atomics.store(c, CH_READY, 1);
  Atomics.notify(c, CH_READY);
  for (;;) {
    Atomics.wait(c, CH_REQ, seen);
    const seq = Atomics.load(c, CH_REQ);
    if (seq === STOP_SEQ) return 'stopped';
    if (seq === seen) continue;
    const fault = data.allowFaultInjection ? ch.readTask().fault : undefined;
    if (fault === 'late') {
      // Oversleep (a test fault): stay away until the main thread has stolen
      // the batch, however long it takes it to get there (5 s at most), so a
      // test of the steal does not depend on who wins a race.
      const until = Date.now() + 5000;
      while (Atomics.load(c, CH_CLAIM) === seq && Date.now() < until) Atomics.wait(c, CH_READY, 1, 1);
    }
    if (Atomics.compareExchange(c, CH_CLAIM, seq, -seq) !== seq) { seen = seq; continue; }
    const t = ch.readTask();
    if (fault !== undefined && fault !== 'late') injectFault(fault);
    let ok = true;
    const t0 = performance.now();
    try {
      ch.writeResult(runBatch(kernel.exports, t));
      ch.writeKernelNs((performance.now() - t0) * 1e6);
    } catch {
      ok = false; // a WASM trap: reported as an error result, the worker keeps serving
    }
    if (!ok) ch.writeResult(null);
    seen = seq;
    Atomics.store(c, CH_DONE, seq);
    Atomics.notify(c, CH_DONE);
  }
}

function injectFault(kind: NonNullable<BatchTask['fault']>): void {
  if (kind === 'exit') process.exit(70); // ends this worker thread only
  if (kind === 'throw') throw new Error('injected worker fault');
  // 'hang': spin until the pool's time budget terminates this thread.
  for (;;) { /* spin */ }
}
