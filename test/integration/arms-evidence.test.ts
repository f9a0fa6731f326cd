// Whose evidence an outcome is, when the arms change: new arms (a new
// candidate, a canary that starts) take no outcome of decisions made before
// them; a lockdown does not use up the post-promotion watch; /metrics shows
// no figure of arms that are gone. Through a real sidecar (worker pool,
// files), driven by the arena.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sidecar } from '../../src/sidecar.js';
import { Arena } from '../../src/sim/arena.js';
import { plantWeights, watchRollback, STALKER_WORLD, STALKER_RULES } from '../../src/sim/gate-experiment.js';
import { prometheus } from '../../src/monitor/prometheus.js';
import { ARM_CANARY, ARM_INCUMBENT } from '../../src/engine/arms.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

const OP = 'Op-01';
async function open(): Promise<Sidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowpath-arms-'));
  const s = await Sidecar.open({ dataDir: dir, checkpointEverySec: 0, config: { engine: { pool_threads: 1, batch_timeout_ms: 2000 } } });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => s.close());
  return s;
}
/** Rounds of every agent, each cycle closing the agent's previous decision (across calls, unlike drive()). */
function driver(s: Sidecar, arena: Arena): (steps: number) => Promise<void> {
  const last = new Map<string, { intent: string; result: unknown }>();
  return async (steps) => {
    for (let n = 0; n < steps;) {
      const batch = arena.agents.map((a) => {
        const prev = last.get(a.id);
        const req = prev ? { agent_id: a.id, state: arena.state(a), intent_taken: prev.intent, result: prev.result } : { agent_id: a.id, state: arena.state(a) };
        return { a, p: s.handle(req) as Promise<Record<string, any>> };
      });
      for (const { a, p } of batch) {
        const r = await p;
        if (r.status !== 'OK') throw new Error(JSON.stringify(r));
        last.set(a.id, { intent: r.intent, result: arena.step(a, r.intent).result });
        n++;
      }
    }
  };
}
const cmd = async (s: Sidecar, req: Record<string, unknown>) => (await s.handle({ operator_id: OP, ...req })) as Record<string, any>;

describe('arms take only their own outcomes', () => {
  it('a new candidate\'s arms hold none of the previous candidate\'s canary outcomes', async () => {
    const s = await open();
    const arena = new Arena({ seed: 7, agents: 200 });
    const go = driver(s, arena);
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'A' }, weights: plantWeights(s, 'PRIMARY_ATTACK') })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'B' } })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'A' })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'SET_CANARY_RATIO', ratio: 0.1 })).toMatchObject({ status: 'OK' });
    await go(2000);
    expect(s.engine.arms.bounds(ARM_CANARY).outcomes).toBeGreaterThan(50); // A's canary served and was judged
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'B' })).toMatchObject({ status: 'OK' });
    expect(s.control.state.canary_ratio).toBe(0);
    // One more round: every agent's cycle closes a decision made under A's arms.
    await go(200);
    expect(s.engine.arms.bounds(ARM_CANARY).outcomes).toBe(0);
    expect(s.engine.arms.bounds(ARM_INCUMBENT).outcomes).toBe(0);
    await go(400);
    expect(s.engine.arms.bounds(ARM_CANARY).outcomes).toBe(0); // B serves no agent: its arm has no evidence
    expect(s.engine.arms.bounds(ARM_INCUMBENT).outcomes).toBeGreaterThan(100);
  });

  it('a canary that starts is compared with the incumbent from then on, not with the shadow phase', async () => {
    const s = await open();
    const arena = new Arena({ seed: 8, agents: 200 });
    const go = driver(s, arena);
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'C' } })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'C' })).toMatchObject({ status: 'OK' });
    await go(3000);
    expect(s.engine.arms.bounds(ARM_INCUMBENT).outcomes).toBeGreaterThan(2500);
    expect(await cmd(s, { type: 'SET_CANARY_RATIO', ratio: 0.05 })).toMatchObject({ status: 'OK' });
    await go(400);
    const inc = s.engine.arms.bounds(ARM_INCUMBENT).outcomes, can = s.engine.arms.bounds(ARM_CANARY).outcomes;
    expect(can).toBeGreaterThan(0);
    // 400 cycles since the canary started, the first 200 of which close shadow-phase decisions.
    expect(inc + can).toBeLessThanOrEqual(200);
    // Raising the ratio keeps the evidence: the same comparison, more agents.
    expect(await cmd(s, { type: 'SET_CANARY_RATIO', ratio: 0.1 })).toMatchObject({ status: 'OK' });
    await go(200);
    expect(s.engine.arms.bounds(ARM_INCUMBENT).outcomes).toBeGreaterThan(inc);
  });

  it('an outcome that closes no decision of this sidecar (a restart, an evicted stream) is evidence about no arm', async () => {
    const s = await open();
    const r = (await s.handle({ agent_id: 'fresh', state: { health: 0.5 }, intent_taken: 'MOVE', result: { outcomes: { is_alive: false } } })) as Record<string, any>;
    expect(r.status).toBe('OK');
    expect(s.engine.arms.bounds(ARM_INCUMBENT).outcomes).toBe(0);
    expect(s.engine.arms.bounds(ARM_CANARY).outcomes).toBe(0);
  });

  it('/metrics shows no canary figure once the arms are new (no stale gauge)', async () => {
    const s = await open();
    const prom = prometheus(s);
    const arena = new Arena({ seed: 9, agents: 100 });
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'D' } })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'REGISTER_MODEL', metadata: { version: 'E' } })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'D' })).toMatchObject({ status: 'OK' });
    expect(await cmd(s, { type: 'SET_CANARY_RATIO', ratio: 0.1 })).toMatchObject({ status: 'OK' });
    await driver(s, arena)(600);
    expect(await prom.metrics()).toMatch(/shadowpath_arm_latency_p99_seconds\{arm="canary"\} [0-9.e-]+/);
    expect(await cmd(s, { type: 'SET_CANDIDATE_MODEL', version: 'E' })).toMatchObject({ status: 'OK' });
    await new Promise((r) => setTimeout(r, 150)); // past the arms' 100 ms snapshot cache
    const text = await prom.metrics();
    expect(text).toMatch(/shadowpath_arm_cycles\{arm="canary"\} 0/);
    expect(text).not.toMatch(/shadowpath_arm_latency_p99_seconds\{arm="canary"\}/);
  });
});

describe('the watch after a promotion', () => {
  it('is not used up by a lockdown: a forced regression is still rolled back after the release', { timeout: 120_000 }, async () => {
    // 6000 locked cycles: more than the watch's 5000, every one a STOP.
    const r = await watchRollback({ seed: 4, agents: 400, intent: 'HOLD', world: STALKER_WORLD, rules: STALKER_RULES, maxCycles: 20_000, lockdownCycles: 6000 });
    expect(r).toMatchObject({ rolled_back: true, active_after: null, incident: { type: 'AUTO_ROLLBACK', operator: 'system' } });
  });
});
