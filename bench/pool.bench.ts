// Pool round trip: one batch at a time through a Piscina worker, production
// and candidate (mlp, hidden 64) deciding every row and the candidate learning
// from one experience per row, as the engine sends them.
import { KernelPool } from '../src/pool/pool.js';
import * as L from '../src/kernel/layout.js';
import { initBody, writeModel } from '../src/kernel/model.js';
import type { BatchTask } from '../src/pool/messages.js';
import { latencyHistogram } from '../src/engine/stats.js';
import { table, type BenchOptions } from './common.js';

const D = 12, K = 7, H = 64;

export interface PoolBenchRow { batch: number; rtt_p50_us: number; rtt_p99_us: number; cycles_per_s: number; inline_cycles_per_s: number }

async function measure(pool: KernelPool, n: number, iters: number): Promise<{ p50: number; p99: number; perS: number }> {
  const shape: L.ModelShape = { arch: L.ARCH_MLP, d: D, k: K, h: H, activation: L.ACT_RELU };
  const a = pool.arena, dp = L.pad4(D);
  const prod = a.alloc(L.modelWords(shape.arch, D, K, H) * 4), cand = a.alloc(L.modelWords(shape.arch, D, K, H) * 4);
  const v = pool.kernel.views();
  writeModel(v, prod >> 2, { shape, seed: 1, updates: 0, body: initBody(shape, 'random', 1) });
  writeModel(v, cand >> 2, { shape, seed: 2, updates: 0, body: initBody(shape, 'random', 2) });
  const task: BatchTask = {
    n, feats: a.alloc(n * dp * 4), ctrl: a.alloc(n * 16), prod, prodOut: a.alloc(n * 32), cand, candOut: a.alloc(n * 32),
    exps: a.alloc(n * (dp + L.EXP_TAIL) * 4), m: n, scratch: a.alloc(L.scratchWords(shape.arch, D, K, H) * 4),
    epsilon: 0.05, temperature: 1, mode: 0, lr: 0.01, l2: 1e-5, iwClip: 10, gradClip: 10,
  };
  const w = pool.kernel.views();
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < D; i++) w.f[(task.feats >> 2) + r * dp + i] = Math.cos(r * 7 + i);
    w.u[(task.ctrl >> 2) + r * 4] = 0x7f; w.i[(task.ctrl >> 2) + r * 4 + 1] = -1; w.u[(task.ctrl >> 2) + r * 4 + 2] = r;
    const e = (task.exps >> 2) + r * (dp + L.EXP_TAIL);
    for (let i = 0; i < D; i++) w.f[e + i] = Math.sin(r * 3 + i);
    w.i[e + dp] = r % K; w.f[e + dp + 1] = 0.5; w.f[e + dp + 2] = 0.5;
  }
  for (let i = 0; i < 50; i++) await pool.run(task);
  const h = latencyHistogram();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) {
    const o = await pool.run(task);
    if (!o.ok) throw new Error(`pool bench batch failed: ${o.error}`);
    h.recordValue(Math.max(1, Math.round(o.micros)));
  }
  const secs = (performance.now() - t0) / 1000;
  return { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), perS: (n * iters) / secs };
}

export async function poolBench(opts: BenchOptions): Promise<PoolBenchRow[]> {
  const rows: PoolBenchRow[] = [];
  for (const n of [1, 16, 64, 256]) {
    const iters = Math.max(200, Math.round((opts.quick ? 40_000 : 400_000) / n / 4));
    const pool = new KernelPool({ threads: 1, batchTimeoutMs: 1000 });
    const inline = new KernelPool({ threads: 0, batchTimeoutMs: 1000 });
    try {
      await pool.warm();
      const p = await measure(pool, n, iters);
      const i = await measure(inline, n, iters);
      rows.push({ batch: n, rtt_p50_us: p.p50, rtt_p99_us: p.p99, cycles_per_s: Math.round(p.perS), inline_cycles_per_s: Math.round(i.perS) });
    } finally {
      await pool.close();
      await inline.close();
    }
  }
  return rows;
}

export function printPool(rows: PoolBenchRow[]): string {
  return table('Pool round trip (1 worker; prod + candidate mlp h=64 decide, candidate learns 1 experience per row)',
    rows.map((r) => ({ ...r })));
}
