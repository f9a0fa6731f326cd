// The confidence sequence behind the gate: valid at every time at once
// (checked by simulation against the true mean), and variance-adaptive.
import { describe, it, expect } from 'vitest';
import { MeanCS, approxHalfWidth } from '../../../src/engine/confseq.js';
import { mix32, unit } from '../../../src/kernel/reference.js';

function rng(seed: number) {
  let i = 0;
  return () => unit(mix32(seed, i++, 3));
}

describe('MeanCS (predictable plug-in empirical Bernstein)', () => {
  it.each([
    ['Bernoulli(0.03)', 0.03, (r: () => number) => (r() < 0.03 ? 1 : 0)],
    ['Bernoulli(0.5)', 0.5, (r: () => number) => (r() < 0.5 ? 1 : 0)],
    ['Uniform(0, 1)', 0.5, (r: () => number) => r()],
  ])('%s: the true mean leaves the running bounds in at most alpha of the runs, each side', (_name, mu, draw) => {
    const alpha = 0.05, runs = 300, steps = 3000;
    let lowMiss = 0, highMiss = 0;
    for (let s = 0; s < runs; s++) {
      const r = rng(1000 + s);
      const cs = new MeanCS(alpha);
      let lo = false, hi = false;
      for (let t = 0; t < steps && !(lo && hi); t++) {
        cs.push(draw(r));
        if (cs.lower > mu) lo = true;
        if (cs.upper < mu) hi = true;
      }
      if (lo) lowMiss++;
      if (hi) highMiss++;
    }
    expect(lowMiss / runs).toBeLessThanOrEqual(alpha);
    expect(highMiss / runs).toBeLessThanOrEqual(alpha);
  });

  it('adapts to the variance: a rare event gets a tight bound, a worst-case variable a wide one', () => {
    const rare = new MeanCS(0.025), coin = new MeanCS(0.025);
    const r = rng(7);
    for (let t = 0; t < 10_000; t++) { rare.push(r() < 0.03 ? 1 : 0); coin.push(r() < 0.5 ? 1 : 0); }
    const wRare = rare.upper - rare.lower, wCoin = coin.upper - coin.lower;
    expect(rare.lower).toBeLessThan(0.03);
    expect(rare.upper).toBeGreaterThan(0.03);
    expect(wRare).toBeLessThan(0.02);
    expect(wCoin).toBeGreaterThan(2 * wRare);
    expect(coin.mean).toBeCloseTo(0.5, 1);
  });

  it('works in the original units of [lo, hi], with lower ≤ mean ≤ upper', () => {
    const cs = new MeanCS(0.05, -10, 10);
    const r = rng(9);
    for (let t = 0; t < 2000; t++) {
      cs.push(-10 + 20 * r() * 0.2 + 2); // in [-8, -4]
      expect(cs.lower).toBeLessThanOrEqual(cs.mean!);
      expect(cs.upper).toBeGreaterThanOrEqual(cs.mean!);
      expect(cs.lower).toBeGreaterThanOrEqual(-10);
      expect(cs.upper).toBeLessThanOrEqual(10);
    }
    expect(cs.lower).toBeLessThan(-6);
    expect(cs.upper).toBeGreaterThan(-6);
    expect(cs.bound()).toMatchObject({ n: 2000, span: 20 });
  });

  it('follows a mean that changes (a learning candidate): its bounds move with it, not stuck at old ones', () => {
    const cs = new MeanCS(0.025);
    const r = rng(11);
    for (let t = 0; t < 20_000; t++) cs.push(r() < 0.02 ? 1 : 0); // good for a while
    const early = cs.upper;
    for (let t = 0; t < 60_000; t++) cs.push(r() < 0.2 ? 1 : 0); // then much worse
    expect(cs.upper).toBeGreaterThan(early);
    expect(cs.lower).toBeGreaterThan(early); // even the lower bound is now above the early upper one: not stuck at the old rate
  });

  it('refuses a meaningless level or range', () => {
    expect(() => new MeanCS(0)).toThrow(RangeError);
    expect(() => new MeanCS(0.05, 1, 1)).toThrow(RangeError);
  });

  it('projects half-widths that shrink with the sample size', () => {
    expect(approxHalfWidth(0.25, 1, 0.025, 100)).toBeGreaterThan(approxHalfWidth(0.25, 1, 0.025, 10_000));
    expect(approxHalfWidth(0.03, 1, 0.025, 10_000)).toBeLessThan(approxHalfWidth(0.25, 1, 0.025, 10_000));
    expect(approxHalfWidth(0.25, 1, 0.025, 0)).toBe(Infinity);
  });

  it('projects within 10% of the half-width a real sequence reaches (deaths at 10% and 2%, fair coins, rewards in [−10, 10])', () => {
    let st = 99;
    const rnd = () => { st = (st + 0x6d2b79f5) >>> 0; let t = Math.imul(st ^ (st >>> 15), 1 | st); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
    const streams: Array<[MeanCS, () => number]> = [
      [new MeanCS(0.025), () => (rnd() < 0.1 ? 1 : 0)],
      [new MeanCS(0.025), () => (rnd() < 0.02 ? 1 : 0)],
      [new MeanCS(0.025), () => (rnd() < 0.5 ? 1 : 0)],
      [new MeanCS(0.025, -10, 10), () => (rnd() < 0.1 ? -5 : 0.05) + rnd() - 0.5],
    ];
    let checked = 0;
    for (const [cs, draw] of streams) {
      for (let t = 1; t <= 100_000; t++) {
        cs.push(draw());
        if (t === 1000 || t === 10_000 || t === 100_000) {
          const b = cs.bound(), real = (b.upper - b.lower) / 2;
          const ratio = approxHalfWidth(b.variance, b.span, 0.025, t) / real;
          expect(ratio, `n ${t}, mean ${b.mean}`).toBeGreaterThan(0.9);
          expect(ratio, `n ${t}, mean ${b.mean}`).toBeLessThan(1.1);
          checked++;
        }
      }
    }
    expect(checked).toBe(12);
  });
});
