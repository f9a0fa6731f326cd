// The contract between the engine (main thread) and a pool worker. A task is
// a handful of numbers: byte offsets of regions in the shared kernel memory
// and the learning hyper-parameters. Feature rows, masks, experiences and
// results are never in the message; they are in the shared memory at those
// offsets (see src/kernel/host.ts). Structured clone therefore costs the same
// for a batch of 1 and a batch of 256.

export interface BatchTask {
  /** Rows to decide. */
  n: number;
  feats: number;
  ctrl: number;
  /** Production model (0: none) and its output rows. */
  prod: number;
  prodOut: number;
  /** Candidate model (0: none) and its output rows. */
  cand: number;
  candOut: number;
  /** Experiences to apply to the candidate before deciding (m = 0: none). */
  exps: number;
  m: number;
  /** Scratch region for this batch, sized for the largest loaded model. */
  scratch: number;
  epsilon: number;
  temperature: number;
  /** 0 epsilon-greedy, 1 softmax sampling. */
  mode: number;
  lr: number;
  l2: number;
  iwClip: number;
  gradClip: number;
  /** Fault injection, honoured only by pools created with allowFaultInjection. */
  fault?: 'exit' | 'hang' | 'throw' | 'late';
}

export interface BatchResult {
  /** Rows whose production output was not finite. */
  prodBad: number;
  candBad: number;
  /** Experiences not applied (non-finite or bad arguments). */
  updBad: number;
}

export interface WorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  allowFaultInjection: boolean;
}

/** Why a batch got no kernel answer; every row of it gets the safe fallback. */
export type BatchFailure = 'WORKER_CRASH' | 'INFERENCE_TIMEOUT';

export type BatchOutcome =
  | { ok: true; result: BatchResult; micros: number }
  | { ok: false; failure: BatchFailure; error: string; micros: number };
