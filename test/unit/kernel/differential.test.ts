// Differential tests: the WASM kernel against its pure-TS twin
// (src/kernel/reference.ts) on generated cases. Each entry point gets at least
// 10,000 cases over both architectures, several widths, and edge magnitudes.
//
// Tolerances: sums and products are computed in the same order with the same
// f32 rounding in both, so linear and ReLU scores, and the weights after an
// update, must agree to the bit. Only exp, log and tanh may differ in the last
// place between AssemblyScript's musl ports and V8; values that pass through
// them are held to 1e-4 relative.
import { describe, it, expect } from 'vitest';
import * as L from '../../../src/kernel/layout.js';
import { KernelInstance, createSharedMemory } from '../../../src/kernel/host.js';
import { Arena } from '../../../src/kernel/arena.js';
import * as R from '../../../src/kernel/reference.js';
import { Mem } from '../../../src/kernel/reference.js';
import { rng, pick } from '../../helpers/rng.js';

const CASES = 10_000;
const memory = createSharedMemory(64);
const kernel = new KernelInstance(memory);
const X = kernel.exports;
const arena = new Arena(memory, X.heapBase(), () => kernel.refresh());
// Regions big enough for the largest generated shape.
const MAXW = L.modelWords(L.ARCH_MLP, 64, 32, 64) + 64;
const MODEL = arena.alloc(MAXW * 4);
const SCRATCH = arena.alloc(L.scratchWords(L.ARCH_MLP, 64, 32, 64) * 4 + 256);
const ROWS = 8;
const FEATS = arena.alloc(ROWS * 64 * 4);
const CTRL = arena.alloc(ROWS * L.CTRL_STRIDE * 4);
const OUT = arena.alloc(ROWS * L.OUT_STRIDE * 4);
const EXPS = arena.alloc(ROWS * (64 + L.EXP_TAIL) * 4);
const END = EXPS + ROWS * (64 + L.EXP_TAIL) * 4;
const w = (byte: number) => byte >> 2;

const magnitudes = [0, 1e-30, 1e-6, 0.01, 1, 10, 1e4, 1e19, 1e30];

interface Shape { arch: number; d: number; k: number; h: number; act: number }

function genShape(r: () => number): Shape {
  const arch = r() < 0.5 ? L.ARCH_LINEAR : L.ARCH_MLP;
  return {
    arch,
    d: pick(r, [1, 3, 4, 7, 12, 13, 32, 33, 64]),
    k: pick(r, [2, 3, 7, 8, 16, 32]),
    h: arch === L.ARCH_MLP ? pick(r, [1, 5, 16, 64]) : 0,
    act: r() < 0.5 ? L.ACT_RELU : L.ACT_TANH,
  };
}

function value(r: () => number, mag: number): number {
  return mag === 0 ? 0 : (r() * 2 - 1) * mag;
}

/** Writes a random model: weights of one magnitude class, feature scales seen or not. */
function writeModel(r: () => number, s: Shape): void {
  const m = kernel.views();
  const at = w(MODEL);
  m.f.fill(0, at, at + MAXW);
  m.i[at + L.H_ARCH] = s.arch; m.i[at + L.H_D] = s.d; m.i[at + L.H_K] = s.k; m.i[at + L.H_H] = s.h; m.i[at + L.H_ACT] = s.act;
  m.u[at + L.H_SEED] = Math.floor(r() * 2 ** 32);
  const mag = pick(r, magnitudes);
  const dp = L.pad4(s.d), hp = L.pad4(s.h), r1 = L.rows1(s.arch, s.k, s.h);
  for (let i = 0; i < s.d; i++) {
    const sc = r() < 0.3 ? 0 : Math.abs(value(r, pick(r, [0.01, 1, 100]))) + 1e-3;
    m.f[at + L.scalesOff(s.d) + i] = sc;
    m.f[at + L.invOff(s.d) + i] = sc > 0 ? Math.fround(1 / Math.fround(sc)) : 0;
  }
  for (let j = 0; j < r1; j++) for (let i = 0; i < s.d; i++) m.f[at + L.w1Off(s.d) + j * dp + i] = value(r, mag);
  for (let j = 0; j < r1; j++) m.f[at + L.b1Off(s.arch, s.d, s.k, s.h) + j] = value(r, mag);
  if (s.arch === L.ARCH_MLP) {
    for (let c = 0; c < s.k; c++) for (let j = 0; j < s.h; j++) m.f[at + L.w2Off(s.arch, s.d, s.k, s.h) + c * hp + j] = value(r, mag);
    for (let c = 0; c < s.k; c++) m.f[at + L.b2Off(s.arch, s.d, s.k, s.h) + c] = value(r, mag);
  }
}

function writeFeatures(r: () => number, s: Shape, row: number, base = FEATS, stride = L.pad4(s.d)): void {
  const m = kernel.views();
  const at = w(base) + row * stride;
  const mag = pick(r, magnitudes);
  for (let i = 0; i < L.pad4(s.d); i++) m.f[at + i] = i < s.d ? value(r, mag) : 0;
  const bad = r();
  if (bad < 0.02) m.f[at + Math.floor(r() * s.d)] = NaN;
  else if (bad < 0.04) m.f[at + Math.floor(r() * s.d)] = r() < 0.5 ? Infinity : -Infinity;
}

/** A plain copy of the kernel memory for the twin to run on. */
function mirror(): Mem {
  return new Mem(new Uint8Array(kernel.views().f.buffer, 0, END).slice().buffer);
}

function close(a: number, b: number, tol: number): boolean {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return true;
  return Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b), 1e-3);
}

function expectRegion(a: Float32Array, b: Float32Array, from: number, n: number, tol: number, what: string): void {
  for (let i = 0; i < n; i++) {
    if (!close(a[from + i], b[from + i], tol)) {
      expect.fail(`${what}: word ${i} differs: wasm ${a[from + i]} vs ts ${b[from + i]}`);
    }
  }
}

describe('WASM kernel vs TS twin', () => {
  it(`decideBatch: ${CASES} rows`, () => {
    const r = rng(1);
    let rows = 0, nonfinite = 0;
    while (rows < CASES) {
      const s = genShape(r);
      writeModel(r, s);
      const n = 1 + Math.floor(r() * ROWS);
      const m = kernel.views();
      for (let row = 0; row < n; row++) {
        writeFeatures(r, s, row);
        const c = w(CTRL) + row * L.CTRL_STRIDE;
        m.u[c + L.C_MASK] = Math.floor(r() * 2 ** 32);
        m.i[c + L.C_PREF] = r() < 0.3 ? -1 : Math.floor(r() * (s.k + 2)) - 1;
        m.u[c + L.C_KEY] = Math.floor(r() * 2 ** 32);
      }
      const eps = pick(r, [0, 0.05, 0.5, 1]);
      const temp = pick(r, [0.1, 1, 3]);
      const mode = r() < 0.7 ? 0 : 1;
      const twin = mirror();
      const badW = X.decideBatch(MODEL, FEATS, CTRL, n, OUT, SCRATCH, eps, temp, mode);
      const badT = R.decideBatch(twin, w(MODEL), w(FEATS), w(CTRL), n, w(OUT), w(SCRATCH), eps, temp, mode);
      expect(badW).toBe(badT);
      nonfinite += badW;
      const mw = kernel.views();
      for (let row = 0; row < n; row++) {
        const o = w(OUT) + row * L.OUT_STRIDE;
        for (const f of [L.O_STATUS, L.O_PROPOSED, L.O_GREEDY, L.O_CHOSEN, L.O_ALLOWED]) {
          expect(mw.f[o + f], `field ${f} of row ${row}`).toBe(twin.f[o + f]);
        }
        for (const f of [L.O_CONFIDENCE, L.O_ENTROPY, L.O_PROPENSITY]) {
          expect(close(mw.f[o + f], twin.f[o + f], 1e-4), `field ${f}: ${mw.f[o + f]} vs ${twin.f[o + f]}`).toBe(true);
        }
      }
      rows += n;
    }
    expect(nonfinite).toBeGreaterThan(100); // the edge cases really reached the non-finite path
  });

  it(`forward: ${CASES} cases, scores bit-exact for linear and ReLU`, () => {
    const r = rng(2);
    for (let t = 0; t < CASES; t++) {
      const s = genShape(r);
      writeModel(r, s);
      writeFeatures(r, s, 0);
      const twin = mirror();
      const stW = X.forward(MODEL, FEATS, SCRATCH);
      const stT = R.forward(twin, w(MODEL), w(FEATS), w(SCRATCH));
      expect(stW).toBe(stT);
      if (stW !== L.STATUS_OK) continue;
      const tol = s.arch === L.ARCH_MLP && s.act === L.ACT_TANH ? 1e-4 : 0;
      expectRegion(kernel.views().f, twin.f, w(SCRATCH) + L.sScores(s.d, s.k, s.h), s.k, tol, 'scores');
    }
  });

  it(`update: ${CASES} experiences, weights after each step compared`, () => {
    const r = rng(3);
    let applied = 0, rejected = 0;
    for (let t = 0; t < CASES; t++) {
      const s = genShape(r);
      writeModel(r, s);
      writeFeatures(r, s, 0);
      const action = r() < 0.02 ? s.k : Math.floor(r() * s.k);
      const reward = r() < 0.02 ? NaN : value(r, pick(r, [0, 1, 10, 1e30]));
      const prop = pick(r, [0, 1e-6, 0.05, 0.5, 1, 1.5]);
      const lr = pick(r, [0.001, 0.05, 0.5]), l2 = pick(r, [0, 1e-4]), iwClip = pick(r, [1, 10]), gClip = pick(r, [1, 100]);
      const twin = mirror();
      const stW = X.update(MODEL, FEATS, action, reward, prop, SCRATCH, lr, l2, iwClip, gClip);
      const stT = R.update(twin, w(MODEL), w(FEATS), action, reward, prop, w(SCRATCH), lr, l2, iwClip, gClip);
      expect(stW).toBe(stT);
      if (stW === L.STATUS_OK) applied++; else rejected++;
      const tol = s.arch === L.ARCH_MLP && s.act === L.ACT_TANH ? 1e-4 : 0;
      expectRegion(kernel.views().f, twin.f, w(MODEL), L.modelWords(s.arch, s.d, s.k, s.h), tol, `model after update (status ${stW})`);
    }
    expect(applied).toBeGreaterThan(CASES / 2);
    expect(rejected).toBeGreaterThan(100);
  });

  it(`updateBatch: ${CASES} experiences in batches, statuses and weights`, () => {
    const r = rng(4);
    let done = 0;
    while (done < CASES) {
      const s = genShape(r);
      writeModel(r, s);
      const n = 1 + Math.floor(r() * ROWS);
      const stride = L.expStride(s.d);
      const m = kernel.views();
      for (let e = 0; e < n; e++) {
        writeFeatures(r, s, e, EXPS, stride);
        const tail = w(EXPS) + e * stride + L.pad4(s.d);
        m.i[tail + L.E_ACTION] = Math.floor(r() * s.k);
        m.f[tail + L.E_REWARD] = value(r, pick(r, [1, 10]));
        m.f[tail + L.E_PROPENSITY] = pick(r, [0.05, 0.3, 1]);
      }
      const twin = mirror();
      const badW = X.updateBatch(MODEL, EXPS, n, SCRATCH, 0.05, 1e-4, 10, 10);
      const badT = R.updateBatch(twin, w(MODEL), w(EXPS), n, w(SCRATCH), 0.05, 1e-4, 10, 10);
      expect(badW).toBe(badT);
      const tol = s.arch === L.ARCH_MLP && s.act === L.ACT_TANH ? 1e-4 : 0;
      expectRegion(kernel.views().f, twin.f, w(MODEL), L.modelWords(s.arch, s.d, s.k, s.h), tol, 'model after batch');
      for (let e = 0; e < n; e++) {
        const tail = w(EXPS) + e * stride + L.pad4(s.d);
        expect(kernel.views().i[tail + L.E_STATUS]).toBe(twin.i[tail + L.E_STATUS]);
      }
      done += n;
    }
  });

  it(`softmax, argmax and explore: ${CASES} score vectors`, () => {
    const r = rng(5);
    const S = w(SCRATCH), P = S + 64, PROP = S + 128;
    for (let t = 0; t < CASES; t++) {
      const k = pick(r, [2, 3, 7, 8, 16, 32]);
      const m = kernel.views();
      const mag = pick(r, [0, 1e-6, 1, 30, 1e4]);
      for (let i = 0; i < k; i++) m.f[S + i] = value(r, mag);
      if (r() < 0.1) m.f[S + Math.floor(r() * k)] = m.f[S]; // ties
      const temp = pick(r, [0.05, 1, 10]);
      const twin = mirror();
      const entW = X.softmax(S * 4, k, temp, P * 4);
      const entT = R.softmax(twin.f, S, k, temp, P);
      expect(close(entW, entT, 1e-4), `entropy ${entW} vs ${entT}`).toBe(true);
      expectRegion(kernel.views().f, twin.f, P, k, 1e-4, 'probs');
      expect(X.argmax(S * 4, k)).toBe(R.argmax(twin.f, S, k));
      const mask = Math.floor(r() * 2 ** 32);
      expect(X.validMask(mask, k) >>> 0).toBe(R.validMask(mask, k));
      const vm = R.validMask(mask, k);
      expect(X.maskedArgmax(S * 4, k, vm)).toBe(R.maskedArgmax(twin.f, S, k, vm));
      const proposed = R.argmax(twin.f, S, k);
      const pref = Math.floor(r() * (k + 1)) - 1;
      const gW = X.greedyAllowed(S * 4, k, vm, proposed, pref);
      expect(gW).toBe(R.greedyAllowed(twin.f, S, k, vm, proposed, pref));
      const eps = pick(r, [0, 0.1, 1]), mode = r() < 0.5 ? 0 : 1;
      const seed = Math.floor(r() * 2 ** 32), key = Math.floor(r() * 2 ** 32);
      const twin2 = mirror(); // probs as the kernel left them
      const cW = X.explore(P * 4, k, vm, gW, eps, mode, seed, key, PROP * 4);
      const cT = R.explore(twin2.f, P, k, vm, gW, eps, mode, seed, key, PROP);
      expect(cW).toBe(cT);
      expect(close(kernel.views().f[PROP], twin2.f[PROP], 1e-4)).toBe(true);
      expect((vm >>> cW) & 1).toBe(1); // never an intent the mask forbids
    }
  });

  it('checkFinite: same verdict on models with a planted NaN or infinity', () => {
    const r = rng(6);
    let bad = 0;
    for (let t = 0; t < CASES; t++) {
      const s = genShape(r);
      writeModel(r, s);
      if (r() < 0.3) {
        const words = L.modelWords(s.arch, s.d, s.k, s.h);
        const at = L.scalesOff(s.d) + Math.floor(r() * (words - L.scalesOff(s.d)));
        kernel.views().f[w(MODEL) + at] = pick(r, [NaN, Infinity, -Infinity]);
      }
      const twin = mirror();
      const v = X.checkFinite(MODEL);
      expect(v).toBe(R.checkFinite(twin, w(MODEL)));
      if (v === 0) bad++;
    }
    expect(bad).toBeGreaterThan(CASES * 0.2);
  });
});
