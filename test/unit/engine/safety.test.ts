import { describe, it, expect } from 'vitest';
import { StateSchema } from '../../../src/engine/state-schema.js';
import { Intents } from '../../../src/engine/intents.js';
import { SafetyRules, DEFAULT_SAFETY_RULES, type SafetyVerdict } from '../../../src/engine/safety.js';
import { RulesPolicy, DEFAULT_RULES_POLICY } from '../../../src/engine/rules-policy.js';

const schema = new StateSchema();
const intents = new Intents();
const values = (state: Record<string, unknown>) => { const v = new Float64Array(schema.fields.length); schema.parseInto(state, v); return v; };
const bit = (n: string) => 1 << intents.index(n);

// Objects under test are built inside the tests, not while the file is
// collected: a constructor that throws then fails a test (and so kills a
// mutant) instead of failing the file, which StrykerJS does not count.
describe('SafetyRules', () => {
  let built: SafetyRules | undefined;
  const rules = { evaluate: (v: Float64Array, o: SafetyVerdict) => (built ??= new SafetyRules(DEFAULT_SAFETY_RULES, schema, intents)).evaluate(v, o),
    forbiddenBy: (v: SafetyVerdict, i: number) => built!.forbiddenBy(v, i) };
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

// Built inside each test (not at collection), so a mutant of the constructor
// or of the default rules fails the test that uses them.
describe('SafetyRules, rule by rule', () => {
  const make = (specs: unknown) => new SafetyRules(specs as never, schema, intents);
  const defaults = () => make(DEFAULT_SAFETY_RULES);
  const fresh = () => ({ mask: 0, pref: -1, matched: 0 });
  const code = (f: () => unknown) => { try { f(); return 'OK'; } catch (e) { return (e as { code?: string }).code ?? String(e); } };

  it('has three default rules, each forbidding what its id says, with HOLD instead', () => {
    const r = defaults();
    expect(r.size).toBe(3);
    const floor = r.evaluate(values({ is_floor_ahead: false }), fresh());
    expect(floor).toMatchObject({ matched: 0b001, pref: intents.index('HOLD') });
    expect([r.forbiddenBy(floor, intents.index('MOVE')), r.forbiddenBy(floor, intents.index('JUMP'))]).toEqual(['no-move-without-floor', 'no-move-without-floor']);
    const fall = r.evaluate(values({ fall_distance_ahead: 3.5 }), fresh());
    expect(fall).toMatchObject({ matched: 0b010, pref: intents.index('HOLD') });
    expect(fall.mask).toBe(intents.allMask & ~bit('MOVE') & ~bit('JUMP'));
    expect(r.forbiddenBy(fall, intents.index('JUMP'))).toBe('no-step-into-fall');
    const air = r.evaluate(values({ is_on_ground: false }), fresh());
    expect(air).toMatchObject({ matched: 0b100, pref: intents.index('HOLD'), mask: intents.allMask & ~bit('JUMP') });
    expect(r.forbiddenBy(air, intents.index('JUMP'))).toBe('no-jump-in-air');
    expect(r.forbiddenBy(air, intents.index('MOVE'))).toBeUndefined();
  });

  it('without a fallback prefers nothing; with several matching rules the first fallback wins', () => {
    expect(make([{ id: 'a', when: {}, forbid: ['MOVE'] }]).evaluate(values({}), fresh()).pref).toBe(-1);
    const two = make([
      { id: 'first', when: {}, forbid: ['MOVE'], fallback: 'EVADE' },
      { id: 'second', when: {}, forbid: ['JUMP'], fallback: 'HOLD' },
    ]);
    expect(two.evaluate(values({}), fresh())).toMatchObject({ pref: intents.index('EVADE'), matched: 0b11 });
    // Intent index 0 is a fallback like any other, and keeps its place.
    const zero = make([
      { id: 'first', when: {}, forbid: ['MOVE'], fallback: intents.names[0] },
      { id: 'second', when: {}, forbid: ['JUMP'], fallback: 'HOLD' },
    ]);
    expect(zero.evaluate(values({}), fresh()).pref).toBe(0);
  });

  it('does not prefer a fallback another rule forbids', () => {
    const r = make([
      { id: 'a', when: {}, forbid: ['MOVE'], fallback: 'HOLD' },
      { id: 'b', when: {}, forbid: ['HOLD'] },
    ]);
    expect(r.evaluate(values({}), fresh())).toMatchObject({ pref: -1, mask: intents.allMask & ~bit('MOVE') & ~bit('HOLD') });
  });

  it('takes up to 32 rules, and names a rule beyond the first ones', () => {
    const specs = Array.from({ length: 32 }, (_, i) => ({ id: `r${i}`, when: {}, forbid: [i === 31 ? 'EVADE' : 'MOVE'] }));
    const r = make(specs);
    const v = r.evaluate(values({}), fresh());
    expect(v.matched >>> 0).toBe(0xffffffff);
    expect(r.forbiddenBy(v, intents.index('EVADE'))).toBe('r31');
    expect(r.forbiddenBy(v, intents.index('HOLD'))).toBeUndefined();
    expect(code(() => make([...specs, { id: 'r32', when: {}, forbid: ['MOVE'] }]))).toBe('E_CONFIG');
  });

  it('checks every field of a rule, with E_CONFIG', () => {
    expect(code(() => make('nope'))).toBe('E_CONFIG');
    expect(code(() => make([]))).toBe('OK');
    expect(code(() => make([null]))).toBe('E_CONFIG');
    for (const id of ['', 'a b', 'ab ', ' ab', 'x/y', 'é', 'x'.repeat(65), 7]) {
      expect(code(() => make([{ id, when: {}, forbid: ['MOVE'] }])), `id ${JSON.stringify(id)}`).toBe('E_CONFIG');
    }
    for (const id of ['a', 'A.b_c-9', 'x'.repeat(64)]) expect(code(() => make([{ id, when: {}, forbid: ['MOVE'] }])), `id ${id}`).toBe('OK');
    expect(code(() => make([{ id: 'a', when: {}, forbid: 'MOVE' }]))).toBe('E_CONFIG');
    expect(code(() => make([{ id: 'a', when: {}, forbid: [] }]))).toBe('E_CONFIG');
    expect(code(() => make([{ id: 'a', when: {}, forbid: ['MOVE'], fallback: 'FLY' }]))).toBe('E_CONFIG');
    expect(code(() => make([{ id: 'a', when: {}, forbid: ['MOVE'] }, { id: 'a', when: {}, forbid: ['JUMP'] }]))).toBe('E_CONFIG');
  });

  it('explains each refusal: which rule, and what is wrong', () => {
    const msg = (f: () => unknown) => { try { f(); return ''; } catch (e) { return (e as Error).message; } };
    expect(msg(() => make('nope'))).toContain('array');
    expect(msg(() => make(Array.from({ length: 33 }, (_, i) => ({ id: `r${i}`, when: {}, forbid: ['MOVE'] }))))).toContain('32');
    expect(msg(() => make([{ id: 'ok', when: {}, forbid: ['MOVE'] }, { id: '', when: {}, forbid: ['MOVE'] }]))).toContain('safety_rules[1]: id');
    expect(msg(() => make([{ id: 'a', when: {}, forbid: ['MOVE'] }, { id: 'a', when: {}, forbid: ['MOVE'] }]))).toContain('safety_rules[1]: duplicate id "a"');
    expect(msg(() => make([{ id: 'a', when: {}, forbid: [] }]))).toContain('safety_rules[0]: forbid');
  });
});

describe('RulesPolicy', () => {
  it('takes the first matching rule, else the default', () => {
    const p = new RulesPolicy(DEFAULT_RULES_POLICY, schema, intents);
    expect(intents.names[p.decide(values({ health: 0.1, target_distance: 3 }))]).toBe('EVADE');
    expect(intents.names[p.decide(values({ target_distance: 2, attack_cooldown: 0 }))]).toBe('PRIMARY_ATTACK');
    expect(intents.names[p.decide(values({ target_distance: 30 }))]).toBe('MOVE');
    expect(intents.names[p.decide(values({}))]).toBe('HOLD');
  });
});
