import { describe, it, expect } from 'vitest';
import * as L from '../../../src/kernel/layout.js';
import { KernelInstance, createSharedMemory } from '../../../src/kernel/host.js';

// The model and scratch layouts are defined twice (assembly/layout.ts and its
// TS mirror); a disagreement would make the host write weights where the
// kernel does not read them.
describe('layout mirror', () => {
  const k = new KernelInstance(createSharedMemory());
  const x = k.exports as unknown as Record<string, (...a: number[]) => number>;
  const shapes: Array<[number, number, number, number]> = [];
  for (const arch of [L.ARCH_LINEAR, L.ARCH_MLP]) {
    for (const d of [1, 3, 4, 5, 12, 13, 32, 33, 257]) {
      for (const kk of [2, 7, 8, 9, 32]) {
        for (const h of arch === L.ARCH_MLP ? [1, 4, 5, 64, 127] : [0]) shapes.push([arch, d, kk, h]);
      }
    }
  }

  it('offset functions agree with the WASM exports for every shape', () => {
    for (const [arch, d, kk, h] of shapes) {
      expect(x.pad4(d)).toBe(L.pad4(d));
      expect(x.scalesOff(d)).toBe(L.scalesOff(d));
      expect(x.invOff(d)).toBe(L.invOff(d));
      expect(x.w1Off(d)).toBe(L.w1Off(d));
      for (const fn of ['b1Off', 'w2Off', 'b2Off', 'modelWords', 'scratchWords'] as const) {
        expect(x[fn](arch, d, kk, h), `${fn}(${arch},${d},${kk},${h})`).toBe(L[fn](arch, d, kk, h));
      }
      for (const fn of ['sXn', 'sPre', 'sHid', 'sScores', 'sProbs', 'sBackup'] as const) {
        expect(x[fn](d, kk, h), `${fn}(${d},${kk},${h})`).toBe(L[fn](d, kk, h));
      }
    }
  });

  it('keeps every region 16-byte aligned', () => {
    for (const [arch, d, kk, h] of shapes) {
      for (const off of [L.w1Off(d), L.b1Off(arch, d, kk, h), L.w2Off(arch, d, kk, h), L.b2Off(arch, d, kk, h), L.modelWords(arch, d, kk, h),
        L.sPre(d, kk, h), L.sHid(d, kk, h), L.sScores(d, kk, h), L.sProbs(d, kk, h), L.sBackup(d, kk, h)]) {
        expect(off % 4).toBe(0);
      }
    }
  });
});
