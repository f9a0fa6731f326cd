// The kernel's per-feature running scales: a field sent in metres and one in
// thousandths must learn alike (docs/ARCHITECTURE.md: learning does not hinge on hand-tuned
// feature ranges). Same problem, one feature scaled by 1e3 or by 1e-3: the
// model's fit after the same number of steps must be good in both.
import { describe, it, expect } from 'vitest';
import { KernelInstance, createSharedMemory } from '../../../src/kernel/host.js';
import { Arena } from '../../../src/kernel/arena.js';
import * as L from '../../../src/kernel/layout.js';
import { initBody, writeModel } from '../../../src/kernel/model.js';
import { rng } from '../../helpers/rng.js';

function fit(unitScale: number, arch: 'linear' | 'mlp'): number {
  const mem = createSharedMemory(32);
  const k = new KernelInstance(mem);
  const a = new Arena(mem, k.exports.heapBase(), () => k.refresh());
  const shape: L.ModelShape = { arch: arch === 'mlp' ? L.ARCH_MLP : L.ARCH_LINEAR, d: 3, k: 2, h: arch === 'mlp' ? 16 : 0, activation: L.ACT_TANH };
  const model = a.alloc(L.modelWords(shape.arch, 3, 2, shape.h) * 4);
  writeModel(k.views(), model >> 2, { shape, seed: 1, updates: 0, body: initBody(shape, 'random', 5) });
  const x = a.alloc(64), scratch = a.alloc(L.scratchWords(shape.arch, 3, 2, shape.h) * 4);
  const r = rng(11);
  const f = () => k.views().f;
  // reward of action 0 = 2u - 1 for u in [0,1), sent as u * unitScale; two noise features.
  const sample = () => { const u = r(); f().set([u * unitScale, r(), r() * 0.5], x >> 2); return 2 * u - 1; };
  for (let i = 0; i < 4000; i++) {
    const rew = sample();
    expect(k.exports.update(model, x, 0, rew, 1, scratch, 0.05, 0, 10, 10)).toBe(L.STATUS_OK);
  }
  let se = 0;
  for (let i = 0; i < 500; i++) {
    const rew = sample();
    expect(k.exports.forward(model, x, scratch)).toBe(L.STATUS_OK);
    const pred = f()[(scratch >> 2) + L.sScores(3, 2, shape.h)];
    se += (pred - rew) ** 2;
  }
  return se / 500;
}

describe('normalised online learning', () => {
  for (const arch of ['linear', 'mlp'] as const) {
    it(`${arch}: a feature in thousandths and one in thousands learn alike`, () => {
      const big = fit(1000, arch), small = fit(0.001, arch), plain = fit(1, arch);
      // Variance of the target is 1/3; a good fit is far below it, at every scale.
      for (const mse of [big, small, plain]) expect(mse).toBeLessThan(0.02);
      expect(Math.max(big, small) / Math.min(big, small)).toBeLessThan(3);
    });
  }
});
