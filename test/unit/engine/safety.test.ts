import { describe, it, expect } from 'vitest';
import { StateSchema } from '../../../src/engine/state-schema.js';
import { Intents } from '../../../src/engine/intents.js';
import { SafetyRules, DEFAULT_SAFETY_RULES } from '../../../src/engine/safety.js';
import { RulesPolicy, DEFAULT_RULES_POLICY } from '../../../src/engine/rules-policy.js';

const schema = new StateSchema();
const intents = new Intents();
const values = (state: Record<string, unknown>) => { const v = new Float64Array(schema.fields.length); schema.parseInto(state, v); return v; };
const bit = (n: string) => 1 << intents.index(n);

describe('SafetyRules', () => {
  const rules = new SafetyRules(DEFAULT_SAFETY_RULES, schema, intents);
  const verdict = () => ({ mask: 0, pref: -1, matched: 0 });

  it('allows everything when no rule matches', () => {
    const v = rules.evaluate(values({}), verdict());
    expect(v.mask).toBe(intents.allMask);
    expect(v.pref).toBe(-1);
  });

  it('forbids MOVE and JUMP without a floor ahead, prefers HOLD, and names the rule', () => {
    const v = rules.evaluate(values({ is_floor_ahead: false }), verdict());
    expect(v.mask & bit('MOVE')).toBe(0);
    expect(v.mask & bit('JUMP')).toBe(0);
    expect(v.mask & bit('EVADE')).not.toBe(0);
    expect(v.pref).toBe(intents.index('HOLD'));
    expect(rules.forbiddenBy(v, intents.index('MOVE'))).toBe('no-move-without-floor');
    expect(rules.forbiddenBy(v, intents.index('EVADE'))).toBeUndefined();
  });

  it('compares with operators', () => {
    expect(rules.evaluate(values({ fall_distance_ahead: 3 }), verdict()).mask).toBe(intents.allMask);
    expect(rules.evaluate(values({ fall_distance_ahead: 3.5 }), verdict()).mask & bit('MOVE')).toBe(0);
  });

  it('leaves STOP allowed when the rules forbid everything', () => {
    const all = new SafetyRules([{ id: 'all', when: {}, forbid: [...intents.names] }], schema, intents);
    expect(all.evaluate(values({}), verdict()).mask).toBe(bit('STOP'));
  });

  it('rejects bad rules with E_CONFIG', () => {
    for (const bad of [
      [{ id: 'x', when: { nope: true }, forbid: ['MOVE'] }],
      [{ id: 'x', when: {}, forbid: ['FLY'] }],
      [{ id: 'x', when: { health: { within: 1 } }, forbid: ['MOVE'] }],
      [{ id: 'x', when: {}, forbid: [] }],
      [{ id: 'x', when: {}, forbid: ['MOVE'] }, { id: 'x', when: {}, forbid: ['MOVE'] }],
    ]) expect(() => new SafetyRules(bad as never, schema, intents)).toThrowError(expect.objectContaining({ code: 'E_CONFIG' }));
  });
});

describe('RulesPolicy', () => {
  const p = new RulesPolicy(DEFAULT_RULES_POLICY, schema, intents);
  it('takes the first matching rule, else the default', () => {
    expect(intents.names[p.decide(values({ health: 0.1, target_distance: 3 }))]).toBe('EVADE');
    expect(intents.names[p.decide(values({ target_distance: 2, attack_cooldown: 0 }))]).toBe('PRIMARY_ATTACK');
    expect(intents.names[p.decide(values({ target_distance: 30 }))]).toBe('MOVE');
    expect(intents.names[p.decide(values({}))]).toBe('HOLD');
  });
});
