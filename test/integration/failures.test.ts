// Failure management, one mode at a time, against a real sidecar: each fault
// is detected where docs/ARCHITECTURE.md says, contained as it says, audited, written up as
// an incident whose audit_hash is in the log, and (when a cycle is involved)
// replayed offline to the same decision.
import { describe, it, expect, afterEach } from 'vitest';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, confirmed } from '../helpers/sidecar.js';
import { replay } from '../../src/monitor/replay.js';
import { listIncidents } from '../../src/monitor/incidents.js';
import { verifyLogFile } from '../../src/audit/log.js';
import type { Sidecar, SidecarOptions } from '../../src/sidecar.js';
import type { CycleReply } from '../../src/engine/types.js';
import { ARCH_LINEAR } from '../../src/kernel/layout.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
const OP = 'Op-01';
const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

async function fresh(extra: Partial<SidecarOptions> = {}): Promise<{ s: Sidecar; dir: string }> {
  const t = tmpDir();
  const s = await openSidecar(t.dir, { ...extra, config: { ...extra.config, failures: { incident_min_interval_s: 0, ...extra.config?.failures } } });
  cleanups.push(t.cleanup, () => s.close());
  return { s, dir: t.dir };
}

/** Waits for the failure manager's durable work (mode, audit, incident files). */
async function settle(s: Sidecar): Promise<void> {
  s.failures.tick();
  await s.control.settled();
  await s.failures.drain();
  await s.audit.drain();
}

/**
 * The incident of `type`: its file is there, its audit record is in a
 * verified log, its snapshot replays. For WORKER_CRASH and INFERENCE_TIMEOUT
 * the replay injects the recorded kernel failure, so their match holds by
 * construction (it checks the fallback path); decisions that are really
 * recomputed are replayed in replay.test.ts.
 */
async function checkIncident(_s: Sidecar, dir: string, type: string, replayable = true) {
  const all = listIncidents(join(dir, 'failures'));
  const inc = all.find((i) => i.type === type);
  expect(inc, `incident ${type} among ${all.map((i) => i.type)}`).toBeDefined();
  const log = readFileSync(join(dir, 'audit', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const rec = log.find((r) => r.seq === inc!.audit_seq);
  expect(rec).toMatchObject({ kind: 'INCIDENT', hash: inc!.audit_hash, payload: { incident_id: inc!.incident_id, type } });
  expect((await verifyLogFile(join(dir, 'audit', 'audit.log'))).ok).toBe(true);
  if (replayable) {
    const r = await replay(join(dir, 'failures', `incident_${inc!.incident_id}.json`));
    expect(r.differences).toEqual([]);
    expect(r.match).toBe(true);
    // A recorded kernel failure is re-injected, not recomputed; the CLI says so.
    const reinjected = type === 'WORKER_CRASH' || type === 'INFERENCE_TIMEOUT';
    expect(r.kernel_failure_reinjected).toBe(reinjected ? type : null);
    if (reinjected) {
      const out = execSync(`"${process.execPath}" "${MAIN}" replay "${join(dir, 'failures', `incident_${inc!.incident_id}.json`)}"`).toString();
      expect(out).toContain(`MATCH: the replayed decision is the recorded one, bit for bit (the kernel failure ${type} was re-injected as recorded`);
    }
  }
  return inc!;
}

const hb = async (s: Sidecar) => (await s.handle({ type: 'HEARTBEAT' })) as Record<string, any>;
const STATE = { health: 0.9, target_distance: 10 };

async function withModels(s: Sidecar) {
  await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'P', architecture: 'mlp', hidden: 8 } });
  await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'P' });
  await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true });
  expect(await s.handle({ type: 'END_WATCH', operator_id: OP })).toMatchObject({ status: 'OK' });
  await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'C', architecture: 'mlp', hidden: 8 } });
  await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'C' });
}

describe('failure modes', () => {
  it('INFERENCE_TIMEOUT: the batch gets STOP, SAFE_MODE for N cycles, then NORMAL again (audited); replays', async () => {
    const { s, dir } = await fresh({ allowFaultInjection: true, config: { engine: { pool_threads: 1, batch_timeout_ms: 100, pool_steal_us: 0 }, failures: { safe_mode_cycles: 20 } } });
    await withModels(s);
    const r = (await s.handle({ agent_id: 'a', state: STATE, __fault: 'hang' })) as CycleReply;
    expect(r).toMatchObject({ intent: 'STOP', policy_source: 'DISASTER_FALLBACK', fallback_reason: 'INFERENCE_TIMEOUT' });
    await settle(s);
    expect((await hb(s)).failure_status).toMatchObject({ mode: 'SAFE_MODE', last_failure: { type: 'INFERENCE_TIMEOUT' } });
    expect(await s.handle({ agent_id: 'b', state: STATE })).toMatchObject({ policy_source: 'RULES', fallback_reason: 'SAFE_MODE' });
    await checkIncident(s, dir, 'INFERENCE_TIMEOUT');
    for (let i = 0; i < 25; i++) await s.handle({ agent_id: `c${i}`, state: STATE });
    await settle(s);
    expect((await hb(s)).failure_status.mode).toBe('NORMAL');
    const log = readFileSync(join(dir, 'audit', 'audit.log'), 'utf8');
    expect(log).toContain('system:safe-mode-cooldown');
  });

  it('WORKER_CRASH: STOP for the batch, the worker replaced, an incident; the mode stays NORMAL; replays', async () => {
    const { s, dir } = await fresh({ allowFaultInjection: true, config: { engine: { pool_threads: 1, pool_steal_us: 0 } } }); // no steal: the crash must happen in the worker
    await withModels(s);
    expect(await s.handle({ agent_id: 'a', state: STATE, __fault: 'exit' })).toMatchObject({ intent: 'STOP', fallback_reason: 'WORKER_CRASH' });
    await settle(s);
    expect((await hb(s)).failure_status).toMatchObject({ mode: 'NORMAL', incident_count: 1 });
    expect(await s.handle({ agent_id: 'b', state: STATE })).toMatchObject({ policy_source: expect.stringMatching(/ML|SAFETY_OVERRIDE/) });
    await checkIncident(s, dir, 'WORKER_CRASH');
  });

  it('STALE_STATE (on by default: 2 s): that cycle STOPs, an incident; replays', async () => {
    const { s, dir } = await fresh();
    await withModels(s);
    expect(s.engine.config.stale_after_s).toBe(2);
    const fresh1 = await s.handle({ agent_id: 'b', state: { ...STATE, timestamp: Date.now() / 1000 - 0.5 } });
    expect(fresh1).toMatchObject({ status: 'OK', fallback_reason: null });
    expect(await s.handle({ agent_id: 'a', state: { ...STATE, timestamp: Date.now() / 1000 - 5 } }))
      .toMatchObject({ status: 'OK', intent: 'STOP', policy_source: 'DISASTER_FALLBACK', fallback_reason: 'STALE_STATE_DETECTED' });
    await settle(s);
    expect((await hb(s)).failure_status).toMatchObject({ mode: 'NORMAL', incident_count: 1, last_failure: { type: 'STALE_STATE' } });
    await checkIncident(s, dir, 'STALE_STATE');
  });

  it('stale_after_s: 0 turns the staleness check off', async () => {
    const { s } = await fresh({ config: { engine: { stale_after_s: 0 } } });
    await withModels(s);
    const r = await s.handle({ agent_id: 'a', state: { ...STATE, timestamp: Date.now() / 1000 - 60 } });
    expect(r).toMatchObject({ status: 'OK', fallback_reason: null });
    await settle(s);
    expect((await hb(s)).failure_status).toMatchObject({ mode: 'NORMAL', incident_count: 0 });
  });

  it('TIME_INTEGRITY_VIOLATION: TEMPORAL_LOCK (every cycle STOP, learning paused) until a two-step reset; replays', async () => {
    const { s, dir } = await fresh();
    await withModels(s);
    const now = Date.now() / 1000;
    await s.handle({ agent_id: 'a', state: { ...STATE, timestamp: now } });
    // Back by 1 s: not yet stale (2 s), so it is the time going back that is caught.
    expect(await s.handle({ agent_id: 'a', state: { ...STATE, timestamp: now - 1 } })).toMatchObject({ intent: 'STOP', fallback_reason: 'TIME_INTEGRITY_VIOLATION' });
    await settle(s);
    expect((await hb(s)).failure_status.mode).toBe('TEMPORAL_LOCK');
    const updates = s.engine.stats.learningUpdates;
    let last = (await s.handle({ agent_id: 'z', state: STATE })) as CycleReply;
    for (let i = 0; i < 10; i++) {
      last = (await s.handle({ agent_id: 'z', state: STATE, intent_taken: last.intent, result: { outcomes: { is_alive: true } } })) as CycleReply;
      expect(last).toMatchObject({ intent: 'STOP', policy_source: 'DISASTER_FALLBACK', fallback_reason: 'TEMPORAL_LOCK', failure_mode: 'TEMPORAL_LOCK' });
    }
    expect(s.engine.stats.learningUpdates).toBe(updates);
    await checkIncident(s, dir, 'TIME_INTEGRITY_VIOLATION');
    expect(await confirmed(s, { type: 'RESET_FAILURE_STATUS', operator_id: OP })).toMatchObject({ status: 'OK' });
    const after = (await s.handle({ agent_id: 'y', state: STATE })) as CycleReply;
    expect(after).toMatchObject({ status: 'OK', failure_mode: 'NORMAL', policy_source: expect.stringMatching(/^(ML|SAFETY_OVERRIDE)$/) });
  });

  it('CORRUPTION_NAN: a non-finite production output → STOP, lockdown, incident; replays', async () => {
    const { s, dir } = await fresh();
    const d = s.engine.schema.dim, k = s.engine.intents.count;
    const w1 = Array.from({ length: k }, () => new Array(d).fill(1e38));
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'HUGE', architecture: 'linear' }, weights: { w1, b1: new Array(k).fill(0) } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'HUGE' });
    await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true });
    expect(await s.handle({ agent_id: 'a', state: { health: 1, energy: 1, target_distance: 1000 } })).toMatchObject({ intent: 'STOP', policy_source: 'DISASTER_FALLBACK', fallback_reason: 'CORRUPTION_NAN' });
    await settle(s);
    expect((await hb(s)).lockdown).toMatchObject({ active: true, operator_id: 'system', reason: expect.stringContaining('CORRUPTION_NAN') });
    expect(await s.handle({ agent_id: 'b', state: STATE })).toMatchObject({ policy_source: 'LOCKDOWN' });
    await checkIncident(s, dir, 'CORRUPTION_NAN');
    void ARCH_LINEAR;
  });

  it('MALFORMED_INPUT above the rate: quarantined, then SHADOW_LEARNING_PAUSE; quarantine files hold them', async () => {
    const { s, dir } = await fresh();
    await withModels(s);
    let last = (await s.handle({ agent_id: 'a', state: STATE })) as CycleReply;
    for (let i = 0; i < 120; i++) {
      const bad = i % 2 === 0;
      last = (await s.handle({ agent_id: 'a', state: STATE, intent_taken: bad ? 'FLY' : last.intent, result: { outcomes: { is_alive: true } } })) as CycleReply;
    }
    await settle(s);
    const h = await hb(s);
    expect(h.failure_status.mode).toBe('SHADOW_LEARNING_PAUSE');
    expect(h.learning_state).toBe('PAUSED');
    expect(h.online_ml_metrics.quarantine_by_reason.UNKNOWN_INTENT).toBe(60);
    const updates = s.engine.stats.learningUpdates;
    for (let i = 0; i < 10; i++) last = (await s.handle({ agent_id: 'a', state: STATE, intent_taken: last.intent, result: { outcomes: { is_alive: true } } })) as CycleReply;
    expect(s.engine.stats.learningUpdates).toBe(updates);
    await checkIncident(s, dir, 'MALFORMED_INPUT');
    await s.quarantine.close();
    const files = execSync(`cat ${join(dir, 'quarantine')}/q-*.jsonl`).toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(files.filter((e) => e.reason === 'UNKNOWN_INTENT')).toHaveLength(60);
    expect(files[0]).toMatchObject({ id: '1:1', agent_id: 'a', reason: 'UNKNOWN_INTENT', intent_taken: 'FLY' });
  });

  it('SURVIVAL_CRASH and CONTRACT_BREACH from the window: SAFE_MODE, incident; replays', async () => {
    for (const [type, outcome] of [['SURVIVAL_CRASH', { outcomes: { is_alive: false } }], ['CONTRACT_BREACH', { safety_flags: { violation: true } }]] as const) {
      const { s, dir } = await fresh({ config: { failures: { alerts: { min_samples: 100 } } } });
      await withModels(s);
      let last = (await s.handle({ agent_id: 'a', state: STATE })) as CycleReply;
      for (let i = 0; i < 150; i++) last = (await s.handle({ agent_id: `a${i % 4}`, state: STATE, ...(i >= 4 ? { intent_taken: last.intent, result: outcome } : {}) })) as CycleReply;
      s.failures.tick();                               // the alert asks for the next cycle's capture
      await s.handle({ agent_id: 'trigger', state: STATE });
      await settle(s);
      expect((await hb(s)).failure_status).toMatchObject({ mode: 'SAFE_MODE', last_failure: { type } });
      expect(await s.handle({ agent_id: 'x', state: STATE })).toMatchObject({ policy_source: 'RULES', fallback_reason: 'SAFE_MODE' });
      await checkIncident(s, dir, type);
    }
  });

  it('canary auto-abort: a significantly worse canary arm sends the ratio to 0, with an incident', async () => {
    const { s, dir } = await fresh({ config: { failures: { alerts: { canary_min_samples: 30, survival_critical: 0 } } } });
    await withModels(s);
    expect(await s.handle({ type: 'SET_CANARY_RATIO', operator_id: OP, ratio: 0.1 })).toMatchObject({ status: 'OK' });
    const last = new Map<string, CycleReply>();
    for (let i = 0; i < 6000; i++) {
      const id = `a${i % 64}`, prev = last.get(id);
      const r = (await s.handle(prev ? { agent_id: id, state: STATE, intent_taken: prev.intent, result: { outcomes: { is_alive: prev.model_version !== 'C' } } } : { agent_id: id, state: STATE })) as CycleReply;
      last.set(id, r);
      if (i % 100 === 99) s.failures.tick();
      if (s.engine.view.canaryRatio === 0) break;
    }
    // The state names the incident at once; its file waits for the next
    // cycle's snapshot, and HEARTBEAT says so meanwhile.
    const during = (await hb(s)).failure_status;
    expect(during).toMatchObject({ incident_pending: true, last_failure: { type: 'CANARY_ABORT', incident_id: expect.any(String) } });
    expect(await listIncidents(dir)).toHaveLength(0);
    await s.handle({ agent_id: 'trigger', state: STATE });
    await settle(s);
    expect(s.engine.view.canaryRatio).toBe(0);
    expect((await hb(s)).canary_ratio).toBe(0);
    await checkIncident(s, dir, 'CANARY_ABORT');
    expect((await hb(s)).failure_status).toMatchObject({ incident_pending: false, last_failure: { incident_id: during.last_failure.incident_id } });
  });

  it('FLOOD: cycles over the rate limit are shed with E_FLOOD, with an incident', async () => {
    const { s, dir } = await fresh({ config: { max_cycles_per_s: 50 } });
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => s.handle({ agent_id: `f${i}`, state: STATE })));
    const shed = rs.filter((r) => r.status === 'REJECTED' && (r as any).error.code === 'E_FLOOD');
    expect(shed.length).toBeGreaterThan(100);
    expect(rs.filter((r) => r.status === 'OK').length).toBeGreaterThan(0);
    await settle(s);
    await checkIncident(s, dir, 'FLOOD', false);
  });

  it('READ_ONLY_DISK: a failed write keeps decisions going and refuses mutations', async () => {
    const { s, dir } = await fresh();
    await withModels(s);
    const audit = join(dir, 'audit', 'audit.log');
    execSync(`chattr +i ${audit} ${dir}`);
    cleanups.push(() => { execSync(`chattr -i ${audit} ${dir}`); });
    const r = await s.handle({ type: 'SET_CANARY_RATIO', operator_id: OP, ratio: 0.01 });
    expect(r, JSON.stringify(r)).toMatchObject({ status: 'REJECTED', error: { code: expect.stringMatching(/E_DISK|E_READ_ONLY/) } });
    await settle(s);
    expect(s.engine.view.mode).toBe('READ_ONLY_DISK');
    expect(await s.handle({ agent_id: 'a', state: STATE })).toMatchObject({ status: 'OK', failure_mode: 'READ_ONLY_DISK' });
    expect(await s.handle({ type: 'SET_CANARY_RATIO', operator_id: OP, ratio: 0.02 })).toMatchObject({
      status: 'REJECTED', error: { code: 'E_READ_ONLY' }, audit_seq: null, audit_error: { code: 'E_DISK' } });
    expect((await hb(s)).failure_status.mode).toBe('READ_ONLY_DISK');
    execSync(`chattr -i ${audit} ${dir}`);
  });
});
