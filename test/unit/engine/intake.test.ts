// Intake: what a cycle request becomes before it is queued.
import { describe, it, expect } from 'vitest';
import { Intake } from '../../../src/engine/intake.js';
import { StateSchema, DEFAULT_SCHEMA } from '../../../src/engine/state-schema.js';
import { Intents } from '../../../src/engine/intents.js';
import { SafetyRules, DEFAULT_SAFETY_RULES } from '../../../src/engine/safety.js';
import { RulesPolicy, DEFAULT_RULES_POLICY } from '../../../src/engine/rules-policy.js';
import { AgentStreams, VectorPool } from '../../../src/engine/pending.js';
import { pad4 } from '../../../src/kernel/layout.js';

function intake(staleAfterS = 2, nowMs = 1_000_000_000) {
  const schema = new StateSchema(DEFAULT_SCHEMA);
  const intents = new Intents();
  const features = new VectorPool(pad4(schema.dim));
  const agents = new AgentStreams(1000, features);
  const i = new Intake({
    schema, safety: new SafetyRules(DEFAULT_SAFETY_RULES, schema, intents), rules: new RulesPolicy(DEFAULT_RULES_POLICY, schema, intents),
    features, agents, staleAfterS, clock: () => nowMs,
  });
  return { i, intents, schema, now: nowMs / 1000 };
}

describe('intake', () => {
  it('refuses what cannot be a cycle, with stable codes', () => {
    const { i } = intake();
    expect(i.check(null)).toMatchObject({ status: 'ERROR', error: { code: 'E_UNKNOWN_MESSAGE' } });
    expect(i.check([1])).toMatchObject({ error: { code: 'E_UNKNOWN_MESSAGE' } });
    expect(i.check({ state: 3 })).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_STATE' } });
    expect(i.check({ state: [] })).toMatchObject({ error: { code: 'E_BAD_STATE' } });
    expect(i.check({ state: {}, agent_id: 'has space' })).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_CYCLE' } });
    expect(i.check({ state: {}, agent_id: 'x'.repeat(129) })).toMatchObject({ error: { code: 'E_BAD_CYCLE' } });
    expect(i.check({ state: {} })).toBeNull();
  });

  it('parses the state, computes the safety verdict and the rules proposal on arrival', () => {
    const { i, intents } = intake();
    const p = i.admit({ agent_id: 'a', state: { is_floor_ahead: false, target_distance: 20 } }, 1, 0);
    expect(p).toMatchObject({ agentId: 'a', cycleId: 1, forcedReason: null, failures: null });
    expect((p.verdict.mask >>> intents.index('MOVE')) & 1).toBe(0); // no-move-without-floor
    expect(intents.names[p.rulesIntent]).toBe('HOLD');
    const d = i.admit({ state: {} }, 2, 0);
    expect(d.agentId).toBe('default');
  });

  it('a stale state is forced to STOP and raises STALE_STATE', () => {
    const { i, now } = intake(2);
    const p = i.admit({ agent_id: 'a', state: { timestamp: now - 5 } }, 1, 0);
    expect(p.forcedReason).toBe('STALE_STATE_DETECTED');
    expect(p.failures).toEqual([expect.objectContaining({ type: 'STALE_STATE', agent_id: 'a', cycle_id: 1 })]);
    expect(i.admit({ agent_id: 'a', state: { timestamp: now - 1 } }, 2, 0).forcedReason).toBeNull();
    // 0 disables the check.
    expect(intake(0).i.admit({ agent_id: 'a', state: { timestamp: now - 500 } }, 1, 0).forcedReason).toBeNull();
  });

  it('a timestamp before the agent\'s previous one raises TIME_INTEGRITY_VIOLATION and does not move the clock back', () => {
    const { i, now } = intake(0);
    i.admit({ agent_id: 'a', state: { timestamp: now } }, 1, 0);
    const back = i.admit({ agent_id: 'a', state: { timestamp: now - 60 } }, 2, 0);
    expect(back.forcedReason).toBe('TIME_INTEGRITY_VIOLATION');
    expect(back.failures![0]).toMatchObject({ type: 'TIME_INTEGRITY_VIOLATION', cycle_id: 2 });
    expect(back.stream.lastTs).toBe(now);
    // Another agent has its own clock.
    expect(i.admit({ agent_id: 'b', state: { timestamp: now - 60 } }, 3, 0).forcedReason).toBeNull();
  });
});
