// The kernel pool: Piscina workers over one shared kernel memory.
//
// Threads are fixed (minThreads = maxThreads): no churn, every worker warm.
// A batch that a worker does not answer within its budget is aborted, which
// makes Piscina terminate that worker and start a replacement; a worker that
// exits or throws mid-batch is replaced the same way. Either way run() never
// rejects: it resolves to a failure outcome and the engine answers every row
// of that batch with the safe fallback. The shared memory outlives workers,
// so a replacement sees every model as it was.
//
// With threads = 0 the kernel runs on the calling thread (replay, tests, and
// the bench's "no pool" baseline): same code path, no thread hop.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { KernelInstance, createSharedMemory, kernelModule } from '../kernel/host.js';
import { Arena } from '../kernel/arena.js';
import { SidecarError } from '../errors.js';
import { runBatch } from './run-batch.js';
import type { BatchOutcome, BatchTask, WorkerData } from './messages.js';

export interface PoolOptions {
  /** Worker threads; 0 runs batches on the calling thread. */
  threads: number;
  /** Time budget of one batch in a worker, ms. */
  batchTimeoutMs: number;
  /** Honour BatchTask.fault (tests only). */
  allowFaultInjection?: boolean;
  initialPages?: number;
}

export interface PoolStats {
  batches: number;
  crashes: number;
  timeouts: number;
  poolErrors: number;
}

export class KernelPool {
  readonly memory: WebAssembly.Memory;
  /** The main thread's own instance: layout, checks, snapshots, inline runs. */
  readonly kernel: KernelInstance;
  readonly arena: Arena;
  readonly stats: PoolStats = { batches: 0, crashes: 0, timeouts: 0, poolErrors: 0 };
  private readonly piscina: Piscina | undefined;
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    if (!Number.isInteger(opts.threads) || opts.threads < 0 || opts.threads > 64) {
      throw new SidecarError('E_CONFIG', `pool threads must be an integer in 0..64, got ${String(opts.threads)}`);
    }
    this.memory = createSharedMemory(opts.initialPages ?? 64);
    const module = kernelModule();
    this.kernel = new KernelInstance(this.memory, module);
    this.arena = new Arena(this.memory, this.kernel.exports.heapBase());
    if (opts.threads > 0) {
      const workerData: WorkerData = { memory: this.memory, module, allowFaultInjection: opts.allowFaultInjection === true };
      this.piscina = new Piscina({
        filename: workerFile(),
        minThreads: opts.threads,
        maxThreads: opts.threads,
        idleTimeout: Number.MAX_SAFE_INTEGER,
        concurrentTasksPerWorker: 1,
        workerData,
      });
      // A reply from a worker that was being aborted can surface here instead
      // of on the task; without a listener it would take the process down.
      this.piscina.on('error', () => { this.stats.poolErrors++; });
    }
  }

  get threads(): number {
    return this.opts.threads;
  }

  /** Starts every worker and waits until each has instantiated the kernel. */
  async warm(): Promise<void> {
    if (!this.piscina) return;
    const empty: BatchTask = { n: 0, feats: 0, ctrl: 0, prod: 0, prodOut: 0, cand: 0, candOut: 0, exps: 0, m: 0, scratch: 0,
      epsilon: 0, temperature: 1, mode: 0, lr: 0, l2: 0, iwClip: 1, gradClip: 1 };
    await Promise.all(Array.from({ length: this.opts.threads }, () => this.piscina!.run(empty)));
  }

  /** Runs one batch; never rejects. */
  async run(task: BatchTask): Promise<BatchOutcome> {
    if (this.closed) throw new SidecarError('E_POOL_CLOSED', 'the kernel pool is closed');
    this.stats.batches++;
    const t0 = performance.now();
    if (!this.piscina) {
      const result = runBatch(this.kernel.exports, task);
      return { ok: true, result, micros: (performance.now() - t0) * 1000 };
    }
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; ac.abort(); }, this.opts.batchTimeoutMs);
    try {
      const result = await this.piscina.run(task, { signal: ac.signal });
      return { ok: true, result, micros: (performance.now() - t0) * 1000 };
    } catch (e) {
      const micros = (performance.now() - t0) * 1000;
      if (timedOut) {
        this.stats.timeouts++;
        return { ok: false, failure: 'INFERENCE_TIMEOUT', error: `batch exceeded ${this.opts.batchTimeoutMs} ms`, micros };
      }
      this.stats.crashes++;
      return { ok: false, failure: 'WORKER_CRASH', error: (e as Error)?.message ?? String(e), micros };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.piscina) await this.piscina.destroy();
  }
}

/** The compiled worker: next to this file under dist/, or in dist/ when running from src/ (tests). */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = join(dirname(here), 'worker.js');
  if (here.endsWith('.js') && existsSync(sibling)) return sibling;
  const built = join(dirname(here), '..', '..', 'dist', 'src', 'pool', 'worker.js');
  if (existsSync(built)) return built;
  throw new SidecarError('E_KERNEL_LOAD', `the pool worker is not built (${built}); run npm run build`);
}
