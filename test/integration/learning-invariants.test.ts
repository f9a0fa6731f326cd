// Promises of "How a cycle is decided", through the public API: production
// weights never change while the candidate learns; a batch never holds two
// cycles of one agent; safety shaping teaches the candidate what the rules
// forbid (and without it, it never learns it).
import { describe, it, expect, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, confirmed, drive } from '../helpers/sidecar.js';
import { server } from '../helpers/server.js';
import { HttpClient } from '../../src/transport/client.js';
import { weightsSha256 } from '../../src/kernel/model.js';
import type { Sidecar } from '../../src/sidecar.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
const OP = 'Op-01';
type R = Record<string, any>;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function withProduction(threads: number, candidate: boolean): Promise<{ s: Sidecar; dir: string }> {
  const t = tmpDir();
  cleanups.push(t.cleanup);
  const s = await openSidecar(t.dir, { config: { engine: { pool_threads: threads } } });
  cleanups.push(() => s.close());
  expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'P', architecture: 'mlp', hidden: 8 } })).toMatchObject({ status: 'OK' });
  expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'P' })).toMatchObject({ status: 'OK' });
  expect(await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true })).toMatchObject({ status: 'OK', active_model: 'P', revision: 1 });
  expect(await s.handle({ type: 'END_WATCH', operator_id: OP })).toMatchObject({ status: 'OK' });
  if (candidate) {
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'C', architecture: 'mlp', hidden: 8 } })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'C' })).toMatchObject({ status: 'OK' });
  }
  return { s, dir: t.dir };
}

describe.each([
  { label: 'kernel on the main thread', threads: 0 },
  { label: '1 kernel worker thread', threads: 1 },
])('production weights never change ($label)', ({ threads }) => {
  it('3,000 cycles with outcomes, learning on: production identical (memory, registry, file), the candidate learned', async () => {
    const { s, dir } = await withProduction(threads, true);
    const prod0 = (await s.engine.snapshotProduction())!;
    const cand0 = (await s.engine.snapshotCandidate())!;
    const file = join(dir, 'models', 'P.r1.model');
    const file0 = sha(readFileSync(file));
    const hb0 = (await s.handle({ type: 'HEARTBEAT' })) as R;
    const replies = await drive(s, 3000, 16);
    expect(replies.filter((r) => r.policy_source === 'ML').length).toBeGreaterThan(2000); // production decided them
    const hb = (await s.handle({ type: 'HEARTBEAT' })) as R;
    expect(hb.online_ml_metrics.learning_updates).toBeGreaterThan(2000);
    const prod = (await s.engine.snapshotProduction())!;
    const cand = (await s.engine.snapshotCandidate())!;
    expect(weightsSha256(prod)).toBe(weightsSha256(prod0));
    expect(prod.updates).toBe(prod0.updates);
    expect([...prod.body]).toEqual([...prod0.body]);
    expect(sha(readFileSync(file))).toBe(file0);
    expect(hb.model_registry.find((m: R) => m.version === 'P').weights_sha256).toBe(hb0.model_registry.find((m: R) => m.version === 'P').weights_sha256);
    // The positive control: the candidate, in the same kernel batches, did learn.
    expect(cand.updates).toBeGreaterThan(cand0.updates + 2000);
    expect(weightsSha256(cand)).not.toBe(weightsSha256(cand0));
  });

  it('without a candidate, nothing learns at all', async () => {
    const { s } = await withProduction(threads, false);
    const prod0 = (await s.engine.snapshotProduction())!;
    await drive(s, 1000, 8);
    const prod = (await s.engine.snapshotProduction())!;
    expect(weightsSha256(prod)).toBe(weightsSha256(prod0));
    expect(((await s.handle({ type: 'HEARTBEAT' })) as R).online_ml_metrics.learning_updates).toBe(0);
  });
});

describe('a batch never holds two cycles of one agent (a server with a kernel worker thread)', () => {
  it('one request of 64 cycles of one agent, each closing the one before: 64 batches, every outcome learned, none unmatched', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const srv = await server(t.dir);
    cleanups.push(() => srv.close());
    const h = new HttpClient('127.0.0.1', srv.httpPort!);
    cleanups.push(() => h.close());
    const s = srv.sidecar;
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'C' } })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'C' })).toMatchObject({ status: 'OK' });
    const st = s.engine.stats;
    const b0 = { batches: st.batches, rows: st.batchRows, learned: st.learningUpdates, quarantined: st.quarantined };
    // HOLD is always allowed here (floor ahead), so under epsilon-greedy it had
    // a known propensity whatever was served: each closing is learnable, but
    // only if the cycle before it was decided first, in an earlier batch.
    const state = { health: 0.9, target_distance: 20, is_floor_ahead: true };
    const cycles = [{ agent_id: 'solo', state }, ...Array.from({ length: 63 }, () => ({ agent_id: 'solo', state, intent_taken: 'HOLD', result: { outcomes: { is_alive: true } } }))];
    const r = await h.cycle({ cycles });
    expect(r.status).toBe(200);
    const replies = r.body.replies as R[];
    expect(replies.map((x) => x.status)).toEqual(new Array(64).fill('OK'));
    const ids = replies.map((x) => x.cycle_id as number);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(64);
    expect(st.batchRows - b0.rows).toBe(64);
    expect(st.batches - b0.batches).toBe(64);
    expect(st.quarantined - b0.quarantined).toBe(0); // no NO_PREVIOUS_CYCLE: each closed a decided cycle
    expect(st.learningUpdates - b0.learned).toBe(63);
  });

  it('8 agents × 8 cycles interleaved in one request: at least 8 batches, all 56 closings learned', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const srv = await server(t.dir);
    cleanups.push(() => srv.close());
    const h = new HttpClient('127.0.0.1', srv.httpPort!);
    cleanups.push(() => h.close());
    const s = srv.sidecar;
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'C' } })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'C' })).toMatchObject({ status: 'OK' });
    const st = s.engine.stats;
    const b0 = { batches: st.batches, rows: st.batchRows, learned: st.learningUpdates, quarantined: st.quarantined };
    const state = { health: 0.9, target_distance: 20, is_floor_ahead: true };
    const cycles = [];
    for (let round = 0; round < 8; round++) for (let a = 0; a < 8; a++) cycles.push(round === 0 ? { agent_id: `a${a}`, state } : { agent_id: `a${a}`, state, intent_taken: 'HOLD', result: { outcomes: { is_alive: true } } });
    const r = await h.cycle({ cycles });
    expect((r.body.replies as R[]).every((x) => x.status === 'OK')).toBe(true);
    expect((r.body.replies as R[]).length).toBe(64);
    expect(st.batchRows - b0.rows).toBe(64);
    expect(st.batches - b0.batches).toBeGreaterThanOrEqual(8);
    expect(st.quarantined - b0.quarantined).toBe(0);
    expect(st.learningUpdates - b0.learned).toBe(56);
  });
});

describe('safety shaping', () => {
  // A candidate that starts out proposing MOVE everywhere, and states with no
  // floor ahead, where the rules forbid MOVE and JUMP: MOVE is never served,
  // so no outcome can teach the candidate it is bad.
  async function run(shaping: boolean): Promise<{ shaped: number; before: number; after: number }> {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const s = await openSidecar(t.dir, { config: { engine: { shadow_window: 200, learning: { safety_shaping: shaping } } } });
    cleanups.push(() => s.close());
    const d = s.engine.schema.dim, k = s.engine.intents.count;
    const b1 = new Array<number>(k).fill(0);
    b1[s.engine.intents.index('MOVE')] = 1;
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'C' }, weights: { w1: Array.from({ length: k }, () => new Array<number>(d).fill(0)), b1 } })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'C' })).toMatchObject({ status: 'OK' });
    const violationRate = async () => s.engine.shadow.candidateViolationRate as number; // the gate's proposed_violation_rate screen reads it
    const last = new Map<string, string>();
    const step = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const id = `g${i % 4}`;
        const state = { health: 0.9, target_distance: 10 + (i % 20), is_floor_ahead: false };
        const prev = last.get(id);
        const r = (await s.handle(prev ? { agent_id: id, state, intent_taken: prev, result: { outcomes: { is_alive: true } } } : { agent_id: id, state })) as R;
        expect(r.status).toBe('OK');
        expect(['MOVE', 'JUMP']).not.toContain(r.intent); // the rules hold, whatever the candidate proposes
        last.set(id, r.intent);
      }
    };
    await step(200);
    const before = await violationRate();
    await step(1200);
    return { shaped: s.engine.stats.shapingUpdates, before, after: await violationRate() };
  }

  it('teaches the candidate what the rules forbid: its proposed-violation rate falls to 0; without it, it stays', async () => {
    const on = await run(true);
    const off = await run(false);
    expect(on.shaped).toBeGreaterThan(0);
    expect(off.shaped).toBe(0);
    expect(on.after).toBe(0);
    expect(off.before).toBeGreaterThan(0.9);
    expect(off.after).toBeGreaterThan(0.9);
  });
});
