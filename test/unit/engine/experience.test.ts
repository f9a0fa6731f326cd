import { describe, it, expect } from 'vitest';
import { Intents } from '../../../src/engine/intents.js';
import { DEFAULT_REWARD, rawReward, readOutcome, type Outcome } from '../../../src/engine/reward.js';
import { closeExperience, propensityOf, candidatePropensity, MemoryQuarantine, REASON_FAILURE_TYPE, type LoggedDecision, type QuarantineEntry } from '../../../src/engine/experience.js';
import { agentUnit } from '../../../src/engine/arms.js';

const intents = new Intents();
const out = (): Outcome => ({ alive: true, violation: false, blocked: false, wasted: false, dealt: 0, received: 0 });
const prev = (over: Partial<LoggedDecision> = {}): LoggedDecision => ({
  cycleId: 1, features: new Float32Array(12), served: intents.index('MOVE'), greedy: intents.index('MOVE'),
  mask: intents.allMask, epsilon: 0.1, propensity: 0.9 + 0.1 / 7, sampled: false, learnable: true,
  candGreedy: -1, candEpoch: 0, byCandidate: false, arm: 0, armEpoch: 1, ...over,
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
    let at5 = 0, at10 = 0;
    for (let i = 0; i < 100_000; i++) {
      const id = `bot-${i}`;
      const u = agentUnit(42, id);
      expect(u).toBe(agentUnit(42, id));
      if (u < 0.05) at5++;
      if (u < 0.1) at10++;
    }
    expect(at5 / 100_000).toBeGreaterThan(0.045);
    expect(at5 / 100_000).toBeLessThan(0.055);
    expect(at10 / 100_000).toBeGreaterThan(0.095);
    expect(at10 / 100_000).toBeLessThan(0.105);
    // Nesting (raising 5% → 10% keeps the first 5% in) holds because the unit
    // depends on the salt and the agent only, never on the ratio: checked end
    // to end, through served cycles, in cycle.test.ts ('Raising the ratio keeps…').
    // Another salt (another candidate) draws other agents.
    let same = 0;
    for (let i = 0; i < 10_000; i++) if ((agentUnit(42, `bot-${i}`) < 0.1) === (agentUnit(43, `bot-${i}`) < 0.1) && agentUnit(42, `bot-${i}`) < 0.1) same++;
    expect(same).toBeLessThan(200);
  });
});

describe('experience details the mutation check asked for', () => {
  const close = (taken: unknown, result: unknown, p?: LoggedDecision, spec = DEFAULT_REWARD) => closeExperience(taken, result, p, intents, spec, out());
  const I = (n: string) => intents.index(n);

  it('counts each quarantine reason towards its failure type', () => {
    expect(REASON_FAILURE_TYPE).toEqual({
      NO_PREVIOUS_CYCLE: 'MALFORMED_INPUT', UNKNOWN_INTENT: 'MALFORMED_INPUT', INTENT_NOT_OFFERED: 'MALFORMED_INPUT',
      MALFORMED_RESULT: 'MALFORMED_INPUT', HOSTILE_PAYLOAD: 'HOSTILE_PAYLOAD', REWARD_INVARIANT: 'REWARD_INVARIANT',
    });
  });

  it('the in-memory quarantine counts by reason and keeps the last `cap` entries', () => {
    const q = new MemoryQuarantine(3);
    expect(q.entries).toEqual([]);
    const e = (reason: QuarantineEntry['reason'], cycle_id: number): QuarantineEntry => ({ reason, agent_id: 'a', cycle_id, prev_cycle_id: null, at: 0, intent_taken: null, result: null });
    q.put(e('UNKNOWN_INTENT', 1));
    expect(q.entries.map((x) => x.cycle_id)).toEqual([1]);
    for (let i = 2; i <= 5; i++) q.put(e(i % 2 ? 'UNKNOWN_INTENT' : 'REWARD_INVARIANT', i));
    expect(q.total).toBe(5);
    expect(Object.fromEntries(q.byReason)).toEqual({ UNKNOWN_INTENT: 3, REWARD_INVARIANT: 2 });
    expect(q.entries.map((x) => x.cycle_id)).toEqual([3, 4, 5]);
  });

  it('the propensity of the served intent is the logged one, even for a sampled (softmax) decision', () => {
    expect(propensityOf(prev({ sampled: true, served: I('EVADE'), greedy: I('MOVE'), propensity: 0.3 }), I('EVADE'))).toBe(0.3);
  });

  it('the greedy intent, when another was served (explored), has 1 - ε + ε/|allowed|', () => {
    const mask = (1 << I('MOVE')) | (1 << I('EVADE')) | (1 << I('HOLD')) | (1 << I('STOP')); // 4 allowed
    const d = prev({ served: I('EVADE'), greedy: I('MOVE'), mask, epsilon: 0.2, propensity: 0.05 });
    expect(propensityOf(d, I('MOVE'))).toBeCloseTo(0.8 + 0.05, 12);
    expect(propensityOf(d, I('HOLD'))).toBeCloseTo(0.05, 12);
    expect(propensityOf(d, I('JUMP'))).toBe(0); // not allowed
  });

  it('the candidate\'s propensity: none without a candidate or for a forbidden intent, else epsilon-greedy over the allowed', () => {
    const mask = (1 << I('MOVE')) | (1 << I('EVADE')) | (1 << I('HOLD')) | (1 << I('STOP'));
    expect(candidatePropensity(prev({ candGreedy: -1, mask }), I('MOVE'))).toBe(0);
    const d = prev({ candGreedy: I('EVADE'), mask, epsilon: 0.2 });
    expect(candidatePropensity(d, I('EVADE'))).toBeCloseTo(0.8 + 0.05, 12);
    expect(candidatePropensity(d, I('MOVE'))).toBeCloseTo(0.05, 12);
    expect(candidatePropensity(d, I('JUMP'))).toBe(0);
    expect(candidatePropensity(prev({ candGreedy: 0, mask: intents.allMask, epsilon: 0.1 }), 0)).toBeCloseTo(0.9 + 0.1 / 7, 12); // intent index 0 is a real choice
  });

  it('a result without intent_taken is UNKNOWN_INTENT, an intent_taken without a result MALFORMED_RESULT: only both absent is nothing', () => {
    expect(close(undefined, { outcomes: { is_alive: true } }, prev())).toMatchObject({ kind: 'quarantine', reason: 'UNKNOWN_INTENT', detail: 'intent_taken undefined' });
    expect(close('MOVE', undefined, prev())).toMatchObject({ kind: 'quarantine', reason: 'MALFORMED_RESULT' });
    expect(close(intents.names[0], {}, prev({ mask: intents.allMask }))).toMatchObject({ kind: 'learn', action: 0 }); // index 0 is an intent
  });

  it('names the refused intent in the detail, cut to 64 characters', () => {
    expect(close('FLY', {}, prev())).toMatchObject({ detail: 'intent_taken "FLY"' });
    const long = close('X'.repeat(300), {}, prev()) as { detail: string };
    expect(long.detail).toBe(`intent_taken ${JSON.stringify('X'.repeat(300)).slice(0, 64)}`);
    expect(close('JUMP', {}, prev({ mask: intents.allMask & ~(1 << I('JUMP')) }))).toMatchObject({ detail: 'JUMP was not allowed or not sampled' });
  });

  it('a raw reward exactly at the bound is learned (clipped); beyond it, REWARD_INVARIANT with the value', () => {
    const spec = { ...DEFAULT_REWARD, alive: 0, bound: 2, clip: 1 };
    expect(close('MOVE', { outcomes: { is_alive: true, damage_dealt: 2 } }, prev(), spec)).toMatchObject({ kind: 'learn', reward: 1 });
    expect(close('MOVE', { outcomes: { is_alive: true, damage_dealt: 2.5 } }, prev(), spec)).toMatchObject({ kind: 'quarantine', reason: 'REWARD_INVARIANT', detail: 'reward 2.5' });
  });
});
