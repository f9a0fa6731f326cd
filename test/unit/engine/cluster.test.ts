// Outcomes clustered by agent: the arms' bounds widen by the design effect
// and Student's t for few agents (src/engine/arms.ts), and with that a
// candidate worse by the margin passes the gate at most α of the time even
// when agents differ by themselves (src/sim/gate-sim-agents.ts).
import { describe, it, expect } from 'vitest';
import { clusterFactor, normalQuantile, studentQuantile } from '../../../src/engine/arms.js';
import { simulateAgents } from '../../../src/sim/gate-sim-agents.js';

describe('quantiles', () => {
  it('normal and Student t against tabulated values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.9875)).toBeCloseTo(2.241403, 5);
    expect(normalQuantile(0.025)).toBeCloseTo(-1.959964, 5);
    expect(studentQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(studentQuantile(0.975, 2)).toBeCloseTo(4.3027, 3);
    expect(studentQuantile(0.975, 5)).toBeCloseTo(2.5706, 1);
    expect(studentQuantile(0.975, 10)).toBeCloseTo(2.2281, 2);
    expect(studentQuantile(0.975, 30)).toBeCloseTo(2.0423, 3);
  });
});

describe('clusterFactor', () => {
  it('about 1 for many agents that do not differ; infinite for fewer than 2 agents', () => {
    const k = 200, n = new Array(k).fill(50), s = new Array(k).fill(5); // every agent 10% deaths exactly
    expect(clusterFactor(n, s, s, 0.025)).toBeGreaterThanOrEqual(1);
    expect(clusterFactor(n, s, s, 0.025)).toBeLessThan(1.01);
    expect(clusterFactor([100], [10], [10], 0.025)).toBe(Infinity);
    expect(clusterFactor([], [], [], 0.025)).toBe(Infinity);
  });

  it('grows with the spread between agents and with fewer agents', () => {
    // Half the agents die 0% of the time, half 20%: the same mean as 10% each, a design effect of about 1 + (n−1)·ICC.
    const even = (k: number) => ({ n: new Array(k).fill(100), s: Array.from({ length: k }, (_, j) => (j % 2 ? 20 : 0)) });
    const a = even(40), b = even(10);
    const fa = clusterFactor(a.n, a.s, a.s, 0.025), fb = clusterFactor(b.n, b.s, b.s, 0.025);
    expect(fa).toBeGreaterThan(2);
    expect(fb).toBeGreaterThan(fa);
  });
});

describe('the gate when agents differ (real Arms, real evaluateGate)', () => {
  it('a candidate worse by the survival margin passes at most 5% of the time, with 30 or 100 agents of differing risk', () => {
    for (const agents of [30, 100]) {
      const r = simulateAgents({ seeds: 60, horizon: 30_000, askEvery: 1000, canaryRatio: 0.1, agents, spread: 0.1, incumbentDeath: 0.1, candidateDeath: 0.12 });
      expect(r.runs - r.empty_canary_runs).toBeGreaterThan(40);
      expect(r.pass_rate, `${agents} agents`).toBeLessThanOrEqual(0.05);
    }
  }, 300_000);

  it('a clearly better candidate still passes, with 400 agents that do not differ', () => {
    const r = simulateAgents({ seeds: 10, horizon: 30_000, askEvery: 1000, canaryRatio: 0.1, agents: 400, spread: 0, incumbentDeath: 0.1, candidateDeath: 0.06 });
    expect(r.pass_rate).toBeGreaterThanOrEqual(0.9);
  }, 300_000);
});
