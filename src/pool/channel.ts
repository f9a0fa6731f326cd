// The doorbell between the engine and one pool worker.
//
// Piscina starts, supervises and replaces the workers, but a Piscina task
// costs a MessagePort round trip through Node's event loop on both sides;
// measured here, its p99.9 is ~2 ms and its worst case several ms, which
// alone would blow the cycle budget at 10k cycles/s. So each worker runs one
// long-lived "serve" task that waits on this channel instead: a small
// SharedArrayBuffer whose words carry a batch descriptor (offsets into the
// kernel memory, hyper-parameters) and two sequence numbers.
//
//   main:   write descriptor → Atomics.store(REQ, seq) → Atomics.notify(REQ)
//   worker: Atomics.wait(REQ) → run the batch → write results
//           → Atomics.store(DONE, seq) → Atomics.notify(DONE)
//   main:   Atomics.waitAsync(DONE, seq - 1, budget) → read results
//
// The seq-cst store of REQ/DONE orders every plain write made before it (the
// descriptor, the feature rows in the kernel memory, the results) before the
// other side's Atomics.load of the same word, so no other fence is needed.
// A futex wake costs a few microseconds here, and no JS event loop sits on
// the worker's path.
//
// Claiming: the batch with seq s is open while CLAIM = s. The worker takes it
// with compareExchange(CLAIM, s, -s) before it reads the descriptor. If the
// worker has not woken within the steal threshold (a sleeping vCPU can take
// milliseconds to be scheduled), the main thread may take it instead with
// compareExchange(CLAIM, s, 0) and run it itself on the same memory. Exactly
// one side wins, so the batch (and its learning updates) runs exactly once;
// a worker that loses simply moves on to the next seq.
import type { BatchResult, BatchTask } from './messages.js';

export const CH_REQ = 0;
export const CH_DONE = 1;
export const CH_READY = 2;
/** Claim word: the open batch's seq until the worker (-seq) or the main thread (0) takes it. */
export const CH_CLAIM = 19;
const CH_N = 3, CH_FEATS = 4, CH_CTRL = 5, CH_PROD = 6, CH_PROD_OUT = 7, CH_CAND = 8, CH_CAND_OUT = 9;
const CH_EXPS = 10, CH_M = 11, CH_SCRATCH = 12, CH_MODE = 13, CH_FAULT = 14;
const CH_PROD_BAD = 15, CH_CAND_BAD = 16, CH_UPD_BAD = 17, CH_ERROR = 18;
/** Kernel time of the last batch, ns, as the worker measured it (the hand-over not included). */
const CH_KERNEL_NS = 20;
const F64_BASE = 16; // Float64 index 16 = byte 128
const F_EPS = 0, F_TEMP = 1, F_LR = 2, F_L2 = 3, F_IW = 4, F_GC = 5;

/** REQ value that tells the serve loop to return. */
export const STOP_SEQ = -1;

const FAULTS = [undefined, 'exit', 'hang', 'throw', 'late'] as const;

export function newChannel(): SharedArrayBuffer {
  return new SharedArrayBuffer(256);
}

export class ChannelView {
  readonly i: Int32Array;
  readonly f: Float64Array;
  constructor(readonly sab: SharedArrayBuffer) {
    this.i = new Int32Array(sab);
    this.f = new Float64Array(sab);
  }

  writeTask(t: BatchTask): void {
    const i = this.i, f = this.f;
    i[CH_N] = t.n; i[CH_FEATS] = t.feats; i[CH_CTRL] = t.ctrl; i[CH_PROD] = t.prod; i[CH_PROD_OUT] = t.prodOut;
    i[CH_CAND] = t.cand; i[CH_CAND_OUT] = t.candOut; i[CH_EXPS] = t.exps; i[CH_M] = t.m; i[CH_SCRATCH] = t.scratch;
    i[CH_MODE] = t.mode; i[CH_FAULT] = FAULTS.indexOf(t.fault);
    f[F64_BASE + F_EPS] = t.epsilon; f[F64_BASE + F_TEMP] = t.temperature; f[F64_BASE + F_LR] = t.lr;
    f[F64_BASE + F_L2] = t.l2; f[F64_BASE + F_IW] = t.iwClip; f[F64_BASE + F_GC] = t.gradClip;
  }

  readTask(): BatchTask {
    const i = this.i, f = this.f;
    const t: BatchTask = {
      n: i[CH_N], feats: i[CH_FEATS], ctrl: i[CH_CTRL], prod: i[CH_PROD], prodOut: i[CH_PROD_OUT], cand: i[CH_CAND],
      candOut: i[CH_CAND_OUT], exps: i[CH_EXPS], m: i[CH_M], scratch: i[CH_SCRATCH], mode: i[CH_MODE],
      epsilon: f[F64_BASE + F_EPS], temperature: f[F64_BASE + F_TEMP], lr: f[F64_BASE + F_LR], l2: f[F64_BASE + F_L2],
      iwClip: f[F64_BASE + F_IW], gradClip: f[F64_BASE + F_GC],
    };
    const fault = FAULTS[i[CH_FAULT]];
    if (fault) t.fault = fault;
    return t;
  }

  writeResult(r: BatchResult | null): void {
    this.i[CH_ERROR] = r ? 0 : 1;
    if (r) { this.i[CH_PROD_BAD] = r.prodBad; this.i[CH_CAND_BAD] = r.candBad; this.i[CH_UPD_BAD] = r.updBad; }
  }

  writeKernelNs(ns: number): void {
    this.i[CH_KERNEL_NS] = Math.min(0x7fffffff, Math.max(0, Math.round(ns)));
  }

  readKernelNs(): number {
    return this.i[CH_KERNEL_NS];
  }

  readResult(): BatchResult | null {
    if (this.i[CH_ERROR] !== 0) return null;
    return { prodBad: this.i[CH_PROD_BAD], candBad: this.i[CH_CAND_BAD], updBad: this.i[CH_UPD_BAD] };
  }
}
