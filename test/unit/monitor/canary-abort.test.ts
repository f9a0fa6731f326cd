// The canary's automatic abort, checked every 400 cycles as the containment
// tick does, over a simulated canary of persistent agents (src/sim/abort-sim.ts:
// the engine's own arms, the real canaryWorse). An equally good canary is
// almost never aborted; a clearly worse one is. The rule before ('window': a
// z-test on the last outcomes at every look) aborts an equal canary about a
// third of the time: the simulation can tell the two apart.
import { describe, it, expect } from 'vitest';
import { simulateAbort, type AbortSimOptions } from '../../../src/sim/abort-sim.js';

const base: AbortSimOptions = {
  seeds: 120, horizon: 8000, lookEvery: 400, canaryRatio: 0.1, agents: 256, spread: 0.5,
  incumbentDeath: 0.01, candidateDeath: 0.01, incumbentViolation: 0.006, candidateViolation: 0.006, rule: 'sequence',
};

describe('canary auto-abort under repeated looks', () => {
  it('an equally good canary: the sequential rule aborts at most a few runs in a hundred; the window rule many', () => {
    const seq = simulateAbort(base);
    const win = simulateAbort({ ...base, rule: 'window' });
    expect(seq.runs).toBeGreaterThan(100);
    expect(seq.abort_rate).toBeLessThanOrEqual(0.03);
    expect(win.abort_rate).toBeGreaterThan(0.1);
    const busy = simulateAbort({ ...base, incumbentDeath: 0.1, candidateDeath: 0.1, incumbentViolation: 0.02, candidateViolation: 0.02 });
    expect(busy.abort_rate).toBeLessThanOrEqual(0.03);
  });

  it('a clearly worse canary is aborted, a gross one within a thousand or so cycles', () => {
    const doubled = simulateAbort({ ...base, incumbentDeath: 0.1, candidateDeath: 0.2 });
    expect(doubled.abort_rate).toBeGreaterThan(0.9);
    const plant = simulateAbort({ ...base, incumbentDeath: 0.03, candidateDeath: 0.37 });
    expect(plant.abort_rate).toBe(1);
    expect(plant.median_cycles_to_abort).toBeLessThanOrEqual(1600);
    const violations = simulateAbort({ ...base, candidateViolation: 0.06 });
    expect(violations.abort_rate).toBeGreaterThan(0.9);
  });
});
