import { describe, it, expect } from 'vitest';
import { Engine } from '../../../src/engine/cycle.js';
import { bodyFromPlain, type ModelParams } from '../../../src/kernel/model.js';
import { ARCH_LINEAR, ACT_RELU } from '../../../src/kernel/layout.js';
import type { CycleReply, FailureEvent } from '../../../src/engine/types.js';
import { MemoryQuarantine } from '../../../src/engine/experience.js';
import { engine, modelFor, ok, STATE, GOOD_RESULT } from '../../helpers/engine.js';

/** A linear model whose bias makes `intent` the clear favourite. */
function favouring(e: Engine, intent: string, margin = 5): ModelParams {
  const shape = { arch: ARCH_LINEAR, d: e.schema.dim, k: e.intents.count, h: 0, activation: ACT_RELU } as const;
  const b1 = e.intents.names.map((n) => (n === intent ? margin : 0));
  return { shape, seed: 9, updates: 0, body: bodyFromPlain(shape, { w1: b1.map(() => new Array(e.schema.dim).fill(0)), b1 }) };
}

const noExplore = { exploration: { epsilon: 0 } };

describe('Engine cycle', () => {
  it('decides by the rules policy without a production model, with the shadow of a candidate', async () => {
    const e = await engine({ config: noExplore });
    await e.setModel('candidate', 'M-C', modelFor(e));
    const r = ok(await e.cycle({ agent_id: 'a', state: { target_distance: 30 } }));
    expect(r).toMatchObject({ policy_source: 'RULES', fallback_reason: 'NO_PRODUCTION_MODEL', intent: 'MOVE', model_version: null, failure_mode: 'NORMAL' });
    expect(r.shadow?.version).toBe('M-C');
    await e.close();
  });

  it('serves the production model, and a safety rule overrides a forbidden proposal', async () => {
    const e = await engine({ config: noExplore });
    await e.setModel('production', 'M-P', favouring(e, 'MOVE'));
    expect(ok(await e.cycle({ state: STATE }))).toMatchObject({ policy_source: 'ML', intent: 'MOVE', model_version: 'M-P', fallback_reason: null });
    const r = ok(await e.cycle({ state: { ...STATE, is_floor_ahead: false } }));
    expect(r).toMatchObject({ policy_source: 'SAFETY_OVERRIDE', intent: 'HOLD', fallback_reason: 'SAFETY_RULE:no-move-without-floor' });
    await e.close();
  });

  it('falls back to the rules below min_confidence and in SAFE_MODE', async () => {
    const e = await engine({ config: { ...noExplore, min_confidence: 0.5 } });
    await e.setModel('production', 'M-P', modelFor(e)); // zeros: confidence 1/7
    expect(ok(await e.cycle({ state: STATE }))).toMatchObject({ policy_source: 'RULES', fallback_reason: 'LOW_CONFIDENCE' });
    e.setView({ ...e.view, version: 1, mode: 'SAFE_MODE' });
    expect(ok(await e.cycle({ state: STATE }))).toMatchObject({ policy_source: 'RULES', fallback_reason: 'SAFE_MODE', failure_mode: 'SAFE_MODE' });
    await e.close();
  });

  it('explores with epsilon among allowed intents only and logs the propensity', async () => {
    const e = await engine({ config: { exploration: { epsilon: 0.5 } } });
    await e.setModel('production', 'M-P', favouring(e, 'EVADE'));
    let explored = 0;
    for (let i = 0; i < 400; i++) {
      const r = ok(await e.cycle({ agent_id: `a${i % 5}`, state: { ...STATE, is_floor_ahead: false } }));
      expect(['MOVE', 'JUMP']).not.toContain(r.intent);
      if (r.explored) { explored++; expect(r.propensity).toBeCloseTo(0.5 / 5, 5); }
      else expect(r.propensity).toBeCloseTo(0.5 + 0.5 / 5, 5);
    }
    expect(explored).toBeGreaterThan(120);
    expect(explored).toBeLessThan(240);
    await e.close();
  });

  it('the candidate learns from valid experiences, never from quarantined ones', async () => {
    const q = new MemoryQuarantine();
    const e = await engine({ quarantine: q });
    await e.setModel('candidate', 'M-C', modelFor(e, 'mlp', 'random'));
    const w0 = (await e.snapshotCandidate())!.body.slice();
    // Only bad experiences: unknown intent, hostile payload, malformed result.
    const bad = [{ intent_taken: 'FLY', result: GOOD_RESULT }, { intent_taken: 'MOVE', result: { outcomes: { damage_dealt: Infinity } } },
      { intent_taken: 'MOVE', result: 'oops' }, { intent_taken: 'MOVE', result: { outcomes: { damage_dealt: 1e5 } } }];
    for (let i = 0; i < 40; i++) await e.cycle({ agent_id: 'a', state: STATE, ...bad[i % bad.length] });
    expect(e.stats.learningUpdates).toBe(0);
    expect(q.total).toBe(e.stats.quarantined);
    expect(q.byReason.get('UNKNOWN_INTENT')).toBe(10);
    expect([...(await e.snapshotCandidate())!.body]).toEqual([...w0]);
    // Now valid ones: the served intent and a good result.
    let last = ok(await e.cycle({ agent_id: 'b', state: STATE }));
    for (let i = 0; i < 20; i++) last = ok(await e.cycle({ agent_id: 'b', state: STATE, intent_taken: last.intent, result: GOOD_RESULT }));
    expect(e.stats.learningUpdates).toBe(20);
    expect([...(await e.snapshotCandidate())!.body]).not.toEqual([...w0]);
    await e.close();
  });

  it('in lockdown answers STOP to every cycle and freezes learning', async () => {
    const e = await engine();
    await e.setModel('production', 'M-P', favouring(e, 'MOVE'));
    await e.setModel('candidate', 'M-C', modelFor(e, 'linear', 'random'));
    e.setView({ ...e.view, version: 1, lockdown: true });
    const w0 = (await e.snapshotCandidate())!.body.slice();
    let last = ok(await e.cycle({ agent_id: 'a', state: STATE }));
    for (let i = 0; i < 30; i++) {
      last = ok(await e.cycle({ agent_id: 'a', state: STATE, intent_taken: last.intent, result: GOOD_RESULT }));
      expect(last).toMatchObject({ intent: 'STOP', policy_source: 'LOCKDOWN', fallback_reason: 'LOCKDOWN', failure_mode: 'LOCKDOWN' });
    }
    expect(e.stats.learningUpdates).toBe(0);
    expect([...(await e.snapshotCandidate())!.body]).toEqual([...w0]);
    await e.close();
  });

  it('routes the canary share to the candidate', async () => {
    const e = await engine({ config: noExplore });
    await e.setModel('production', 'M-P', favouring(e, 'HOLD'));
    await e.setModel('candidate', 'M-C', favouring(e, 'EVADE'));
    e.setView({ ...e.view, version: 1, canaryRatio: 0.25, canarySalt: 77 });
    const rs = await Promise.all(Array.from({ length: 2000 }, (_, i) => e.cycle({ agent_id: `a${i}`, state: STATE })));
    const canary = rs.filter((r) => (r as CycleReply).policy_source === 'CANARY_ML') as CycleReply[];
    expect(canary.length / 2000).toBeGreaterThan(0.2);
    expect(canary.length / 2000).toBeLessThan(0.3);
    for (const r of canary) expect(r).toMatchObject({ intent: 'EVADE', model_version: 'M-C' });
    // Sticky per agent: every later cycle of an agent is served by the same arm.
    const inCanary = new Set(canary.map((r) => r.agent_id));
    const again = (await Promise.all(Array.from({ length: 2000 }, (_, i) => e.cycle({ agent_id: `a${i}`, state: STATE })))).map(ok);
    expect(again.length).toBe(2000);
    for (const r of again) expect(r.policy_source === 'CANARY_ML').toBe(inCanary.has(r.agent_id));
    // Raising the ratio keeps every agent already in the canary.
    e.setView({ ...e.view, version: 2, canaryRatio: 0.5 });
    const more = (await Promise.all(Array.from({ length: 2000 }, (_, i) => e.cycle({ agent_id: `a${i}`, state: STATE })))).map(ok);
    for (const r of more) if (inCanary.has(r.agent_id)) expect(r.policy_source).toBe('CANARY_ML');
    expect(more.filter((r) => r.policy_source === 'CANARY_ML').length).toBeGreaterThan(inCanary.size + 300);
    // Outcomes count to the arm of the agent that lived them.
    const arms = e.arms.snapshot();
    expect(arms.canary.agents).toBeGreaterThan(0);
    expect(arms.canary.cycles).toBeGreaterThan(0);
    await e.close();
  });

  it('answers STOP to a stale state and to time going backwards, and reports both', async () => {
    const failures: FailureEvent[] = [];
    const now = 1_764_124_021_000;
    const e = await engine({ config: { stale_after_s: 2 }, clock: () => now, onFailure: (f) => failures.push(f) });
    expect(ok(await e.cycle({ agent_id: 'a', state: { timestamp: now / 1000 - 5 } }))).toMatchObject({ intent: 'STOP', policy_source: 'DISASTER_FALLBACK', fallback_reason: 'STALE_STATE_DETECTED' });
    ok(await e.cycle({ agent_id: 'a', state: { timestamp: now / 1000 } }));
    expect(ok(await e.cycle({ agent_id: 'a', state: { timestamp: now / 1000 - 1 } }))).toMatchObject({ intent: 'STOP', fallback_reason: 'TIME_INTEGRITY_VIOLATION' });
    expect(failures.map((f) => f.type)).toEqual(['STALE_STATE', 'TIME_INTEGRITY_VIOLATION']);
    await e.close();
  });

  it('answers malformed cycles with stable codes', async () => {
    const e = await engine();
    expect(await e.cycle(42)).toMatchObject({ status: 'ERROR', error: { code: 'E_UNKNOWN_MESSAGE' } });
    expect(await e.cycle({ state: [1] })).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_STATE' } });
    expect(await e.cycle({ state: 'x' })).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_STATE' } });
    expect(await e.cycle({ agent_id: 7, state: {} })).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_CYCLE' } });
    expect(await e.cycle({ agent_id: 'x'.repeat(200), state: {} })).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_CYCLE' } });
    await e.close();
  });

  it('refuses models that do not fit or are not finite, with stable codes', async () => {
    const e = await engine();
    const m = modelFor(e);
    await expect(e.setModel('production', 'X', { ...m, shape: { ...m.shape, d: 5 } })).rejects.toMatchObject({ code: 'E_MODEL_SHAPE' });
    await expect(e.setModel('production', 'X', { ...m, body: m.body.subarray(1) })).rejects.toMatchObject({ code: 'E_MODEL_WEIGHTS' });
    const nan = m.body.slice(); nan[40] = NaN;
    await expect(e.setModel('production', 'X', { ...m, body: nan })).rejects.toMatchObject({ code: 'E_MODEL_WEIGHTS' });
    expect(e.productionVersion).toBeNull();
    expect(ok(await e.cycle({ state: STATE })).policy_source).toBe('RULES');
    await e.close();
  });

  it('sheds cycles beyond max_queue with E_OVERLOADED and answers the rest', async () => {
    const e = await engine({ config: { max_queue: 10 } });
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => e.cycle({ agent_id: `a${i}`, state: STATE })));
    expect(rs.filter((r) => r.status === 'OK').length).toBe(10);
    expect(rs.filter((r) => r.status === 'REJECTED' && r.error.code === 'E_OVERLOADED').length).toBe(20);
    await e.close();
  });

  it('makes the same decisions and learns the same weights on the pool as on the calling thread', async () => {
    const run = async (threads: number) => {
      const e = await Engine.create({ config: { pool_threads: threads, exploration: { epsilon: 0.2 } } });
      await e.setModel('production', 'M-P', modelFor(e, 'mlp', 'random', 3));
      await e.setModel('candidate', 'M-C', modelFor(e, 'mlp', 'random', 4));
      e.setView({ ...e.view, version: 1, canaryRatio: 0.1, canarySalt: 5 });
      const out: string[] = [];
      const last = new Map<string, string>();
      for (let round = 0; round < 30; round++) {
        const rs = await Promise.all(Array.from({ length: 8 }, (_, a) => e.cycle({
          agent_id: `a${a}`, state: { health: ((round * 7 + a) % 10) / 10, target_distance: (round * 13 + a * 5) % 50 },
          ...(last.has(`a${a}`) ? { intent_taken: last.get(`a${a}`), result: { outcomes: { damage_dealt: (a % 3) / 2 } } } : {}),
        })));
        for (const r of rs.map(ok)) { last.set(r.agent_id, r.intent); out.push(`${r.cycle_id}:${r.intent}:${r.policy_source}:${r.propensity}:${r.shadow?.intent}`); }
      }
      const w = (await e.snapshotCandidate())!.body;
      await e.close();
      return { out, w: [...w] };
    };
    const a = await run(0), b = await run(1);
    expect(b.out).toEqual(a.out);
    expect(b.w).toEqual(a.w);
  });
});

describe('a view changed by containment in the middle of a batch', () => {
  it('a lockdown latched by one row\'s failure is STOP for every later row of the same batch', async () => {
    let e!: Engine;
    e = await Engine.create({
      config: { pool_threads: 0, stale_after_s: 2 },
      // Containment's stand-in: the first failure latches a lockdown, as CORRUPTION_NAN would.
      onFailure: () => { if (!e.view.lockdown) e.setView({ ...e.view, version: e.view.version + 1, lockdown: true }); },
    });
    const now = Date.now() / 1000;
    const rs = await Promise.all([
      e.cycle({ agent_id: 'old', state: { health: 1, timestamp: now - 60 } }),
      ...Array.from({ length: 8 }, (_, i) => e.cycle({ agent_id: `a${i}`, state: { health: 1, target_distance: 20 } })),
    ]);
    expect(rs.length).toBe(9);
    expect(rs[0]).toMatchObject({ status: 'OK', intent: 'STOP', fallback_reason: 'STALE_STATE_DETECTED', failure_mode: 'LOCKDOWN' });
    for (const r of rs.slice(1)) expect(r).toMatchObject({ status: 'OK', intent: 'STOP', policy_source: 'LOCKDOWN', failure_mode: 'LOCKDOWN' });
    await e.close();
  });
});
