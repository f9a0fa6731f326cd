// The kernel pool: Piscina workers over one shared kernel memory.
//
// Threads are fixed (minThreads = maxThreads): no churn, every worker warm.
// Each worker runs one long-lived serve task fed through its doorbell channel
// (channel.ts), so a batch costs a futex wake, not a Piscina message.
// The engine keeps one batch in flight; it goes to the first ready worker,
// and the other workers are hot standbys.
//
// Faults: a batch not answered within its budget gets its serve task aborted,
// which makes Piscina terminate that worker and start a replacement; a worker
// that exits or throws ends its serve task the same way. Either way run()
// never rejects: it resolves to a failure outcome, the engine answers every
// row of that batch with the safe fallback, and the next batch goes to a
// standby (or waits for the replacement). The kernel memory is shared and
// outlives workers, so a replacement sees every model as it was.
//
// With threads = 0 the kernel runs on the calling thread (replay, tests, and
// the bench's "no pool" baseline): same runBatch, no thread hop.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance as perf } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { KernelInstance, createSharedMemory, kernelModule } from '../kernel/host.js';
import { Arena } from '../kernel/arena.js';
import { SidecarError } from '../errors.js';
import { runBatch } from './run-batch.js';
import { ChannelView, newChannel, CH_REQ, CH_DONE, CH_READY, CH_CLAIM, STOP_SEQ } from './channel.js';
import type { BatchFailure, BatchOutcome, BatchTask, WorkerData } from './messages.js';

export interface PoolOptions {
  /** Worker threads; 0 runs batches on the calling thread. */
  threads: number;
  /** Time budget of one batch in a worker, ms. */
  batchTimeoutMs: number;
  /** Honour BatchTask.fault (tests only). */
  allowFaultInjection?: boolean;
  /**
   * A batch the worker has not claimed this many µs after it was posted may
   * be run by the calling thread instead (see channel.ts); 0 never steals.
   */
  stealAfterUs?: number;
  /**
   * A batch of at most this many rows whose kernel time is expected under
   * `inlineBudgetUs` runs on the calling thread even when there are workers
   * (docs/CPU.md): handing a small batch to a worker costs more CPU (futex
   * wake-ups on both threads, an event-loop wake, a promise) than running
   * it. 0 sends every batch to a worker.
   */
  inlineMaxRows?: number;
  inlineBudgetUs?: number;
  /**
   * No batch runs inline while the calling thread's event loop was busier
   * than this share of the time over the last 10 ms: then it is the
   * bottleneck, and a worker running the kernel in parallel is worth its
   * hand-over. 1 never looks.
   */
  inlineMaxBusy?: number;
  initialPages?: number;
}

export interface PoolStats {
  batches: number;
  crashes: number;
  timeouts: number;
  restarts: number;
  /** Batches the main thread ran because the worker had not woken in time. */
  stolen: number;
  /** Batches small enough to run on the calling thread without a hand-over (inlineMaxRows). */
  inline: number;
}

interface Lane {
  view: ChannelView;
  state: 'booting' | 'ready' | 'busy' | 'dead';
  seq: number;
  abort: AbortController;
  /** Settles the batch in flight on this lane when its serve task ends early. */
  onDeath: ((failure: BatchFailure, error: string) => void) | null;
  /** The batch in flight, for stealing and its time budget. */
  inflight: { seq: number; task: BatchTask; postedAt: number; steal: () => void; overrun: () => void } | null;
}

export class KernelPool {
  readonly memory: WebAssembly.Memory;
  /** The main thread's own instance: layout, checks, snapshots, inline runs. */
  readonly kernel: KernelInstance;
  readonly arena: Arena;
  readonly stats: PoolStats = { batches: 0, crashes: 0, timeouts: 0, restarts: 0, stolen: 0, inline: 0 };
  private readonly piscina: Piscina | undefined;
  private readonly lanes: Lane[] = [];
  private readyWaiters: Array<() => void> = [];
  private stealTimer: NodeJS.Timeout | undefined;
  private idleTicks = 0;
  private closed = false;
  /** Called when a worker ended (crash, overrun) and a replacement is starting; for the log. */
  onReplace: ((i: { lane: number; reason: string; restarts: number }) => void) | null = null;
  private readonly inlineMaxRows: number;
  private readonly inlineBudgetNs: number;
  /** Kernel ns per unit of work (a row or an experience): the least of the last 8 batches'. */
  private unitNs = 0;
  private readonly costs = new Float64Array(8);
  private costAt = 0;
  /** A model was loaded since the cost was last measured: the next batch goes to a worker, which measures it. */
  private costUnknown = false;
  private readonly inlineMaxBusy: number;
  /** The event loop's utilization, sampled every 10 ms (see inlineMaxBusy). */
  private elu = perf.eventLoopUtilization();
  private eluAt = 0;
  private loopBusy = false;

  constructor(private readonly opts: PoolOptions) {
    if (!Number.isInteger(opts.threads) || opts.threads < 0 || opts.threads > 64) {
      throw new SidecarError('E_CONFIG', `pool threads must be an integer in 0..64, got ${String(opts.threads)}`);
    }
    this.inlineMaxRows = opts.inlineMaxRows ?? DEFAULT_INLINE_MAX_ROWS;
    this.inlineBudgetNs = (opts.inlineBudgetUs ?? DEFAULT_INLINE_BUDGET_US) * 1000;
    this.inlineMaxBusy = opts.inlineMaxBusy ?? DEFAULT_INLINE_MAX_BUSY;
    this.memory = createSharedMemory(opts.initialPages ?? 64);
    const module = kernelModule();
    this.kernel = new KernelInstance(this.memory, module);
    this.arena = new Arena(this.memory, this.kernel.exports.heapBase(), () => this.kernel.refresh());
    if (opts.threads > 0) {
      const workerData: WorkerData = { memory: this.memory, module, allowFaultInjection: opts.allowFaultInjection === true };
      this.piscina = new Piscina({
        filename: workerFile(), minThreads: opts.threads, maxThreads: opts.threads,
        idleTimeout: Number.MAX_SAFE_INTEGER, concurrentTasksPerWorker: 1, workerData,
      });
      // A late reply from a worker being terminated can surface here; without
      // a listener it would take the process down.
      this.piscina.on('error', () => {});
      for (let i = 0; i < opts.threads; i++) this.startLane(i);
    }
  }

  get threads(): number {
    return this.opts.threads;
  }

  /** Workers serving and idle now. */
  readyWorkers(): number {
    return this.lanes.filter((l) => l.state === 'ready').length;
  }

  /** Resolves when every worker is serving. */
  async warm(): Promise<void> {
    while (this.lanes.some((l) => l.state === 'booting')) await new Promise<void>((r) => this.readyWaiters.push(r));
  }

  /**
   * Runs the batch here, at once, when it is small and cheap enough for the
   * calling thread (docs/CPU.md) or when there are no workers; null when it
   * should go to a worker (then call run()). Synchronous: the engine settles
   * an inline batch in the same turn, without a promise or a microtask hop.
   */
  runHere(task: BatchTask): BatchOutcome | null {
    if (this.closed) throw new SidecarError('E_POOL_CLOSED', 'the kernel pool is closed');
    const t0 = performance.now();
    // A batch that carries a test fault goes to a worker, which alone acts on
    // it (a hang must be in a thread the pool can terminate).
    if (this.piscina) {
      if (this.inlineMaxBusy < 1 && t0 - this.eluAt >= 10) {
        const now = perf.eventLoopUtilization();
        this.loopBusy = perf.eventLoopUtilization(now, this.elu).utilization > this.inlineMaxBusy;
        this.elu = now;
        this.eluAt = t0;
      }
      const units = task.n + task.m;
      const small = !this.costUnknown && !this.loopBusy && task.n <= this.inlineMaxRows && units * this.unitNs <= this.inlineBudgetNs
        && !(task.fault !== undefined && this.opts.allowFaultInjection);
      if (!small) return null;
      this.stats.inline++;
    }
    this.stats.batches++;
    try {
      const result = runBatch(this.kernel.exports, task);
      const micros = (performance.now() - t0) * 1000;
      this.learnCost(micros * 1000, task.n + task.m);
      return { ok: true, result, micros };
    } catch (e) {
      return { ok: false, failure: 'WORKER_CRASH', error: `kernel trap: ${(e as Error).message}`, micros: (performance.now() - t0) * 1000 };
    }
  }

  /** Runs one batch, here (runHere) or on a worker; never rejects. One batch per worker at a time. */
  run(task: BatchTask): Promise<BatchOutcome> {
    try {
      const here = this.runHere(task);
      return here ? Promise.resolve(here) : this.runOnWorker(task);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Runs one batch on a worker, for a caller that runHere() just declined
   * (the inline rule is not asked twice); never rejects once the pool is
   * open. Needs workers.
   */
  async runOnWorker(task: BatchTask): Promise<BatchOutcome> {
    if (this.closed) throw new SidecarError('E_POOL_CLOSED', 'the kernel pool is closed');
    if (!this.piscina) throw new Error('runOnWorker needs workers (threads > 0): call run()');
    this.stats.batches++;
    const t0 = performance.now();
    let lane = this.lanes.find((l) => l.state === 'ready');
    while (!lane) {
      await new Promise<void>((r) => this.readyWaiters.push(r));
      if (this.closed) throw new SidecarError('E_POOL_CLOSED', 'the kernel pool is closed');
      lane = this.lanes.find((l) => l.state === 'ready');
    }
    return this.runOn(lane, task, t0);
  }

  /**
   * A model was loaded (src/engine/models.ts): the kernel cost per row may
   * have changed, so no batch runs inline until a worker has measured one.
   */
  modelsChanged(): void {
    if (this.piscina) this.costUnknown = true;
  }

  /**
   * Records one batch's kernel time. The estimate is the least cost per unit
   * of the last 8 batches: noise (a preemption, a GC pause, a first call
   * still being compiled) only ever adds time, so one slow batch does not
   * stop inlining; a heavier model is caught by modelsChanged().
   */
  private learnCost(ns: number, units: number): void {
    const u = ns / Math.max(1, units);
    if (this.costUnknown || this.costAt === 0) { this.costUnknown = false; this.costs.fill(u); }
    this.costs[this.costAt++ & 7] = u;
    let min = this.costs[0];
    for (let i = 1; i < 8; i++) if (this.costs[i] < min) min = this.costs[i];
    this.unitNs = min;
  }

  private runOn(lane: Lane, task: BatchTask, t0: number): Promise<BatchOutcome> {
    lane.state = 'busy';
    lane.view.writeTask(task);
    const seq = ++lane.seq;
    const c = lane.view.i;
    Atomics.store(c, CH_CLAIM, seq);
    Atomics.store(c, CH_REQ, seq);
    Atomics.notify(c, CH_REQ);
    return new Promise<BatchOutcome>((resolve) => {
      let settled = false;
      const settle = (o: BatchOutcome) => {
        if (settled) return;
        settled = true;
        lane.onDeath = null;
        lane.inflight = null;
        resolve(o);
      };
      const micros = () => (performance.now() - t0) * 1000;
      const fail = (failure: BatchFailure, error: string) => settle({ ok: false, failure, error, micros: micros() });
      lane.onDeath = fail;
      const done = () => {
        if (settled) return;
        lane.state = 'ready';
        const result = lane.view.readResult();
        if (result) this.learnCost(lane.view.readKernelNs(), task.n + task.m);
        if (result) settle({ ok: true, result, micros: micros() });
        else { this.stats.crashes++; fail('WORKER_CRASH', 'the kernel trapped'); }
        this.wakeReady();
      };
      const steal = () => {
        if (settled || Atomics.compareExchange(c, CH_CLAIM, seq, 0) !== seq) return;
        // The worker has not woken: run the batch here, exactly once.
        this.stats.stolen++;
        let result = null;
        const s0 = performance.now();
        try { result = runBatch(this.kernel.exports, task); } catch { /* reported below */ }
        lane.view.writeKernelNs((performance.now() - s0) * 1e6);
        lane.view.writeResult(result);
        Atomics.store(c, CH_DONE, seq);
        done();
      };
      // The time budget is kept by the pool's 1 ms interval (armStealTimer),
      // not by a timeout on the wait: a timed Atomics.waitAsync costs every
      // hand-over a delayed task on the main thread (an eventfd write and a
      // futex round: docs/CPU.md), though a budget is almost never exceeded.
      const overrun = () => {
        if (settled || Atomics.load(c, CH_DONE) === seq) return;
        this.stats.timeouts++;
        fail('INFERENCE_TIMEOUT', `batch exceeded ${this.opts.batchTimeoutMs} ms`);
        lane.state = 'dead';
        lane.abort.abort(); // Piscina terminates the worker; the lane restarts when its task ends
        Atomics.notify(c, CH_DONE); // releases the wait below (its promise would otherwise never settle)
      };
      lane.inflight = { seq, task, postedAt: t0, steal, overrun };
      this.armStealTimer();
      const w = Atomics.waitAsync(c, CH_DONE, seq - 1);
      if (!w.async) { done(); return; }
      void w.value.then(() => { if (!settled && Atomics.load(c, CH_DONE) === seq) done(); });
    });
  }

  /**
   * At low load no cycle arrives to poke the pool, so a 1 ms interval does
   * (the finest a Node timer goes): it steals a batch its worker left
   * unclaimed and fails one past its time budget. It stops itself after 100
   * idle ticks, so an idle sidecar does not wake up a thousand times a second.
   */
  private armStealTimer(): void {
    this.idleTicks = 0;
    if (this.stealTimer) return;
    this.stealTimer = setInterval(() => {
      if (this.lanes.some((l) => l.inflight)) {
        this.idleTicks = 0;
        this.poke();
        const now = performance.now();
        for (const l of this.lanes) {
          const f = l.inflight;
          if (f && now - f.postedAt >= this.opts.batchTimeoutMs) f.overrun();
        }
        return;
      }
      if (++this.idleTicks >= 100) { clearInterval(this.stealTimer); this.stealTimer = undefined; }
    }, 1);
    this.stealTimer.unref();
  }

  /**
   * Called by the engine whenever it gets control (a cycle arrives): steals
   * the batch in flight if its worker has left it unclaimed past the
   * threshold. Cheap when there is nothing to do.
   */
  poke(): void {
    const stealUs = this.opts.stealAfterUs ?? 250;
    if (stealUs <= 0) return;
    for (const l of this.lanes) {
      const f = l.inflight;
      if (f && (performance.now() - f.postedAt) * 1000 >= stealUs) f.steal();
    }
  }

  private startLane(index: number): void {
    const lane: Lane = { view: new ChannelView(newChannel()), state: 'booting', seq: 0, abort: new AbortController(), onDeath: null, inflight: null };
    this.lanes[index] = lane;
    const ready = Atomics.waitAsync(lane.view.i, CH_READY, 0);
    const markReady = () => { if (lane.state === 'booting') { lane.state = 'ready'; this.wakeReady(); } };
    if (ready.async) void ready.value.then(markReady); else markReady();
    this.piscina!.run({ channel: lane.view.sab }, { signal: lane.abort.signal }).then(
      () => this.laneEnded(index, lane, 'the worker stopped serving'),
      (e: unknown) => this.laneEnded(index, lane, (e as Error)?.message ?? String(e)),
    );
  }

  private laneEnded(index: number, lane: Lane, why: string): void {
    lane.state = 'dead';
    if (lane.onDeath) {
      this.stats.crashes++;
      lane.onDeath('WORKER_CRASH', why);
    }
    // Unblock anyone waiting on this lane's readiness word.
    Atomics.store(lane.view.i, CH_READY, 1);
    Atomics.notify(lane.view.i, CH_READY);
    if (this.closed) return;
    this.stats.restarts++;
    this.startLane(index);
    this.onReplace?.({ lane: index, reason: why, restarts: this.stats.restarts });
  }

  private wakeReady(): void {
    const ws = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of ws) w();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.stealTimer) clearInterval(this.stealTimer);
    for (const l of this.lanes) {
      Atomics.store(l.view.i, CH_REQ, STOP_SEQ);
      Atomics.notify(l.view.i, CH_REQ);
    }
    this.wakeReady();
    if (this.piscina) await this.piscina.destroy();
  }
}

/**
 * Measured with the CPU bench (docs/CPU.md): handing a batch to a worker and
 * back costs ~30 µs of CPU across the two threads on the bench machine, so a
 * batch expected to take less kernel time than that runs where it is. After
 * a model is loaded the next batch goes to a worker, which measures the new
 * cost; the row cap is a second bound on how long the event loop is held.
 */
export const DEFAULT_INLINE_MAX_ROWS = 64;
export const DEFAULT_INLINE_BUDGET_US = 25;
/** Past half its time busy, the main thread is where throughput is lost: offload the kernel. */
export const DEFAULT_INLINE_MAX_BUSY = 0.5;

/** The compiled worker: next to this file under dist/, or in dist/ when running from src/ (tests). */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = join(dirname(here), 'worker.js');
  if (here.endsWith('.js') && existsSync(sibling)) return sibling;
  const built = join(dirname(here), '..', '..', 'dist', 'src', 'pool', 'worker.js');
  if (existsSync(built)) return built;
  throw new SidecarError('E_KERNEL_LOAD', `the pool worker is not built (${built}); run npm run build`);
}
