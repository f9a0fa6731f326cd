// Kernel micro-benchmark: ns per prediction and per update for both
// architectures (d = 32, hidden 64, 7 intents), the WASM kernel against its TS
// twin in the same run, and an empty call as the price of crossing into WASM.
import { KernelInstance, createSharedMemory } from '../src/kernel/host.js';
import { Arena } from '../src/kernel/arena.js';
import * as L from '../src/kernel/layout.js';
import * as R from '../src/kernel/reference.js';
import { Mem } from '../src/kernel/reference.js';
import { initBody, writeModel } from '../src/kernel/model.js';
import { nsPerOp, table, type BenchOptions } from './common.js';

const D = 32, H = 64, K = 7, ROWS = 64;

export interface KernelBench {
  rows: Array<Record<string, string | number>>;
  wasm_vs_ts_mlp_ratio: number;
  wasm_vs_ts_linear_ratio: number;
  empty_call_ns: number;
}

export function kernelBench(opts: BenchOptions): KernelBench {
  const iters = opts.quick ? 10_000 : 100_000;
  const reps = opts.quick ? 3 : 9;
  const mem = createSharedMemory(64);
  const k = new KernelInstance(mem);
  const x = k.exports;
  const arena = new Arena(mem, x.heapBase(), () => k.refresh());
  const rows: KernelBench['rows'] = [];
  const empty = nsPerOp((n) => { for (let i = 0; i < n; i++) x.noop(); }, iters * 10, reps);
  rows.push({ case: 'empty call (JS→WASM)', arch: '-', wasm_ns: empty, ts_ns: '-' as unknown as number, ts_over_wasm: '-' as unknown as number });
  const ratios: Record<string, number> = {};
  for (const archName of ['linear', 'mlp'] as const) {
    const shape: L.ModelShape = { arch: archName === 'mlp' ? L.ARCH_MLP : L.ARCH_LINEAR, d: D, k: K, h: archName === 'mlp' ? H : 0, activation: L.ACT_RELU };
    const words = L.modelWords(shape.arch, D, K, shape.h);
    const model = arena.alloc(words * 4);
    const scratch = arena.alloc(L.scratchWords(shape.arch, D, K, shape.h) * 4);
    const feats = arena.alloc(ROWS * L.pad4(D) * 4), ctrl = arena.alloc(ROWS * 16), out = arena.alloc(ROWS * L.OUT_STRIDE * 4);
    const end = out + ROWS * L.OUT_STRIDE * 4;
    const v = k.views();
    writeModel(v, model >> 2, { shape, seed: 1, updates: 0, body: initBody(shape, 'random', 2) });
    for (let i = 0; i < ROWS * L.pad4(D); i++) v.f[(feats >> 2) + i] = (i % L.pad4(D)) < D ? Math.sin(i) : 0;
    for (let r = 0; r < ROWS; r++) { v.u[(ctrl >> 2) + r * 4] = 0x7f; v.i[(ctrl >> 2) + r * 4 + 1] = -1; v.u[(ctrl >> 2) + r * 4 + 2] = r; }
    // Prime the feature scales so that updates do real work from the start.
    for (let r = 0; r < ROWS; r++) x.update(model, feats + r * L.pad4(D) * 4, r % K, 0.5, 0.5, scratch, 0.01, 1e-5, 10, 10);
    // The twin gets a plain (non-shared) copy of the same memory.
    const twin = new Mem(new Uint8Array(mem.buffer, 0, end).slice().buffer);
    const M = model >> 2, S = scratch >> 2, F = feats >> 2, C = ctrl >> 2, O = out >> 2;
    const cases: Array<[string, (n: number) => void, (n: number) => void]> = [
      ['forward', (n) => { for (let i = 0; i < n; i++) x.forward(model, feats + (i & 63) * 128, scratch); },
        (n) => { for (let i = 0; i < n; i++) R.forward(twin, M, F + (i & 63) * 32, S); }],
      ['decide row (batch of 64)', (n) => { for (let i = 0; i < n; i += ROWS) x.decideBatch(model, feats, ctrl, ROWS, out, scratch, 0.05, 1, 0); },
        (n) => { for (let i = 0; i < n; i += ROWS) R.decideBatch(twin, M, F, C, ROWS, O, S, 0.05, 1, 0); }],
      ['update', (n) => { for (let i = 0; i < n; i++) x.update(model, feats + (i & 63) * 128, i % K, 0.3, 0.5, scratch, 0.01, 1e-5, 10, 10); },
        (n) => { for (let i = 0; i < n; i++) R.update(twin, M, F + (i & 63) * 32, i % K, 0.3, 0.5, S, 0.01, 1e-5, 10, 10); }],
      ['forward + update', (n) => { for (let i = 0; i < n; i++) { x.forward(model, feats + (i & 63) * 128, scratch); x.update(model, feats + (i & 63) * 128, i % K, 0.3, 0.5, scratch, 0.01, 1e-5, 10, 10); } },
        (n) => { for (let i = 0; i < n; i++) { R.forward(twin, M, F + (i & 63) * 32, S); R.update(twin, M, F + (i & 63) * 32, i % K, 0.3, 0.5, S, 0.01, 1e-5, 10, 10); } }],
    ];
    const n = archName === 'mlp' ? iters / 4 : iters;
    for (const [name, w, t] of cases) {
      const wasm = nsPerOp(w, n, reps), ts = nsPerOp(t, n, reps);
      rows.push({ case: name, arch: archName, wasm_ns: wasm, ts_ns: ts, ts_over_wasm: ts / wasm });
      if (name === 'forward + update') ratios[archName] = ts / wasm;
    }
  }
  return { rows, wasm_vs_ts_mlp_ratio: ratios.mlp, wasm_vs_ts_linear_ratio: ratios.linear, empty_call_ns: empty };
}

export function printKernel(b: KernelBench): string {
  return table(`Kernel (d=${D}, hidden=${H}, ${K} intents; ns per row, median of runs)`, b.rows);
}
