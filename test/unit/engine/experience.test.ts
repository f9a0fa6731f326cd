import { describe, it, expect } from 'vitest';
import { Intents } from '../../../src/engine/intents.js';
import { DEFAULT_REWARD, rawReward, readOutcome, type Outcome } from '../../../src/engine/reward.js';
import { closeExperience, propensityOf, type LoggedDecision } from '../../../src/engine/experience.js';
import { agentUnit } from '../../../src/engine/arms.js';

const intents = new Intents();
const out = (): Outcome => ({ alive: true, violation: false, blocked: false, wasted: false, dealt: 0, received: 0 });
const prev = (over: Partial<LoggedDecision> = {}): LoggedDecision => ({
  cycleId: 1, features: new Float32Array(12), served: intents.index('MOVE'), greedy: intents.index('MOVE'),
  mask: intents.allMask, epsilon: 0.1, propensity: 0.9 + 0.1 / 7, sampled: false, learnable: true,
  candGreedy: -1, candEpoch: 0, byCandidate: false, arm: 0, ...over,
});

describe('reward', () => {
  it('rewards survival and damage dealt, punishes damage received, death, waste and violations', () => {
    const o = out();
    expect(readOutcome({ outcomes: { damage_dealt: 2, damage_received: 0.5, is_alive: true } }, DEFAULT_REWARD, o)).toBeUndefined();
    expect(rawReward(o, DEFAULT_REWARD)).toBeCloseTo(0.05 + 2 - 0.5);
    readOutcome({ outcomes: { is_alive: false, action_wasted: true }, safety_flags: { violation: true } }, DEFAULT_REWARD, o);
    expect(rawReward(o, DEFAULT_REWARD)).toBeCloseTo(-5 - 0.1 - 2);
  });

  it('classifies malformed and hostile results', () => {
    const o = out();
    expect(readOutcome('x', DEFAULT_REWARD, o)).toBe('MALFORMED_RESULT');
    expect(readOutcome({ outcomes: { is_alive: 'yes' } }, DEFAULT_REWARD, o)).toBe('MALFORMED_RESULT');
    expect(readOutcome({ outcomes: { damage_dealt: '5' } }, DEFAULT_REWARD, o)).toBe('MALFORMED_RESULT');
    expect(readOutcome({ outcomes: { damage_dealt: 1e300 } }, DEFAULT_REWARD, o)).toBe('HOSTILE_PAYLOAD');
    expect(readOutcome(JSON.parse('{"outcomes":{"__proto__":{"x":1}}}'), DEFAULT_REWARD, o)).toBe('HOSTILE_PAYLOAD');
  });
});

describe('closeExperience', () => {
  const close = (taken: unknown, result: unknown, p?: LoggedDecision) => closeExperience(taken, result, p, intents, DEFAULT_REWARD, out());

  it('has nothing to close without intent_taken and result', () => {
    expect(close(undefined, undefined, prev()).kind).toBe('none');
  });

  it('learns from a valid experience with the logged propensity and the clipped reward', () => {
    const c = close('MOVE', { outcomes: { damage_dealt: 50 } }, prev());
    expect(c.kind).toBe('learn');
    if (c.kind === 'learn') {
      expect(c.reward).toBe(DEFAULT_REWARD.clip);
      expect(c.propensity).toBeCloseTo(0.9 + 0.1 / 7);
    }
  });

  it('quarantines with a reason code', () => {
    expect(close('FLY', {}, prev())).toMatchObject({ kind: 'quarantine', reason: 'UNKNOWN_INTENT' });
    expect(close('MOVE', {}, undefined)).toMatchObject({ kind: 'quarantine', reason: 'NO_PREVIOUS_CYCLE' });
    expect(close('MOVE', { outcomes: { damage_dealt: 5000 } }, prev())).toMatchObject({ kind: 'quarantine', reason: 'REWARD_INVARIANT' });
    expect(close('MOVE', [], prev())).toMatchObject({ kind: 'quarantine', reason: 'MALFORMED_RESULT' });
    const noJump = prev({ mask: intents.allMask & ~(1 << intents.index('JUMP')) });
    expect(close('JUMP', {}, noJump)).toMatchObject({ kind: 'quarantine', reason: 'INTENT_NOT_OFFERED' });
  });

  it('skips (does not learn from) a decision that was forced', () => {
    expect(close('STOP', {}, prev({ learnable: false })).kind).toBe('skip');
  });

  it('knows the epsilon-greedy propensity of an intent the agent took instead', () => {
    const p = prev();
    expect(propensityOf(p, intents.index('EVADE'))).toBeCloseTo(0.1 / 7);
    expect(propensityOf(prev({ sampled: true }), intents.index('EVADE'))).toBe(0);
  });
});

describe('canary arms (per agent)', () => {
  it('draw each agent once per salt: deterministic, the configured share, nested as the ratio grows', () => {
    let at5 = 0, at10 = 0, kept = 0;
    for (let i = 0; i < 100_000; i++) {
      const id = `bot-${i}`;
      const u = agentUnit(42, id);
      expect(u).toBe(agentUnit(42, id));
      if (u < 0.05) at5++;
      if (u < 0.1) at10++;
      if (u < 0.05 && u < 0.1) kept++;
    }
    expect(at5 / 100_000).toBeGreaterThan(0.045);
    expect(at5 / 100_000).toBeLessThan(0.055);
    expect(at10 / 100_000).toBeGreaterThan(0.095);
    expect(at10 / 100_000).toBeLessThan(0.105);
    expect(kept).toBe(at5); // raising 5% → 10% keeps the first 5% in
    // Another salt (another candidate) draws other agents.
    let same = 0;
    for (let i = 0; i < 10_000; i++) if ((agentUnit(42, `bot-${i}`) < 0.1) === (agentUnit(43, `bot-${i}`) < 0.1) && agentUnit(42, `bot-${i}`) < 0.1) same++;
    expect(same).toBeLessThan(200);
  });
});
