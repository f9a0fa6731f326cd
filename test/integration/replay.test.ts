// Replay recomputes decisions: a canary decision and an explored one, captured
// by incidents, are decided again offline from the snapshot (weights, control
// view, agent stream, RNG position) and come out the same. (Replays of
// WORKER_CRASH and INFERENCE_TIMEOUT reproduce the recorded kernel failure by
// construction: the fallback is what is checked there, not a recomputation.)
import { describe, it, expect, afterEach } from 'vitest';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, confirmed } from '../helpers/sidecar.js';
import { replay } from '../../src/monitor/replay.js';
import type { CycleReply } from '../../src/engine/types.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
const OP = 'Op-01';

describe('replay recomputes', () => {
  it('a canary decision and an explored decision, bit for bit', async () => {
    const t = tmpDir();
    const s = await openSidecar(t.dir, { config: { engine: { pool_threads: 1, exploration: { epsilon: 0.5 } }, failures: { incident_min_interval_s: 0, alerts: { survival_critical: 0, violation_critical: 1 } } } });
    cleanups.push(t.cleanup, () => s.close());
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'P', architecture: 'mlp', hidden: 8 } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'P' });
    await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true });
    await s.handle({ type: 'END_WATCH', operator_id: OP });
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'C', architecture: 'mlp', hidden: 8 } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'C' });
    expect(await confirmed(s, { type: 'SET_CANARY_RATIO', operator_id: OP, ratio: 0.5, bypass_safety_cap: true })).toMatchObject({ status: 'OK' });
    const last = new Map<string, CycleReply>();
    const wanted = { canary: false, explored: false };
    for (let i = 0; i < 400 && !(wanted.canary && wanted.explored); i++) {
      const id = `a${i % 16}`, prev = last.get(id);
      // Capture this cycle in an incident (STALE_STATE changes no mode, so the loop goes on undisturbed).
      s.engine.captureNext('STALE_STATE', 'capture for replay');
      const r = (await s.handle({ agent_id: id, state: { health: (i % 10) / 10, target_distance: (i * 7) % 40 },
        ...(prev ? { intent_taken: prev.intent, result: { outcomes: { is_alive: true, damage_dealt: (i % 3) / 2 } } } : {}) })) as CycleReply;
      expect(r.status).toBe('OK');
      last.set(id, r);
      await s.failures.drain();
      const inc = s.failures.written.at(-1)!;
      expect(inc.state_snapshot?.cycle_id).toBe(r.cycle_id);
      const kind = r.policy_source === 'CANARY_ML' ? 'canary' : r.explored ? 'explored' : null;
      if (!kind || wanted[kind]) continue;
      const rp = await replay(join(t.dir, 'failures', `incident_${inc.incident_id}.json`));
      expect(rp.differences).toEqual([]);
      expect(rp.match).toBe(true);
      expect(rp.replayed).toMatchObject({ intent: r.intent, policy_source: r.policy_source });
      wanted[kind] = true;
    }
    expect(wanted).toEqual({ canary: true, explored: true });
  });
});
