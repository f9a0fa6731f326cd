// Containment's boundaries, exactly: SAFE_MODE lasts N cycles (still on at
// N−1), incidents of one type at most every 10 s with the ones in between
// counted, and the quarantine rate trips learning's pause at 5% of the
// window, not before. With real worker threads.
import { describe, it, expect, afterEach } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, confirmed } from '../helpers/sidecar.js';
import { DEFAULT_FAILURE_CONFIG } from '../../src/config.js';
import { listIncidents } from '../../src/monitor/incidents.js';
import type { Sidecar, SidecarOptions } from '../../src/sidecar.js';
import type { CycleReply } from '../../src/engine/types.js';
import { join } from 'node:path';
import { execSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
const OP = 'Op-01';
const STATE = { health: 0.9, target_distance: 10 };

async function fresh(extra: Partial<SidecarOptions> = {}): Promise<{ s: Sidecar; dir: string }> {
  const t = tmpDir();
  const s = await openSidecar(t.dir, { ...extra, config: { ...extra.config, engine: { pool_threads: 1, ...extra.config?.engine } } });
  cleanups.push(t.cleanup, () => s.close());
  return { s, dir: t.dir };
}
const mode = (s: Sidecar) => s.control.state.failure.mode;

describe('containment boundaries (real worker threads)', () => {
  it('the default SAFE_MODE after an inference timeout is 1000 cycles', () => {
    expect(DEFAULT_FAILURE_CONFIG.safe_mode_cycles).toBe(1000);
    expect(DEFAULT_FAILURE_CONFIG.incident_min_interval_s).toBe(10);
    expect(DEFAULT_FAILURE_CONFIG.quarantine_rate).toBe(0.05);
  });

  it('SAFE_MODE after an inference timeout: still on after N−1 cycles, NORMAL after N', async () => {
    const N = 20;
    const { s } = await fresh({ allowFaultInjection: true, config: { engine: { batch_timeout_ms: 100, pool_steal_us: 0 }, failures: { safe_mode_cycles: N } } }); // no steal: the hang must reach the worker
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'P' } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'P' });
    await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true });
    await s.handle({ type: 'END_WATCH', operator_id: OP });
    expect(await s.handle({ agent_id: 'h', state: STATE, __fault: 'hang' })).toMatchObject({ fallback_reason: 'INFERENCE_TIMEOUT', failure_mode: 'SAFE_MODE' });
    expect(mode(s)).toBe('SAFE_MODE');
    for (let i = 0; i < N - 1; i++) expect(await s.handle({ agent_id: `c${i}`, state: STATE })).toMatchObject({ policy_source: 'RULES', fallback_reason: 'SAFE_MODE' });
    s.failures.tick();
    expect(mode(s)).toBe('SAFE_MODE');
    await s.handle({ agent_id: 'last', state: STATE });
    s.failures.tick();
    expect(mode(s)).toBe('NORMAL');
    expect(await s.handle({ agent_id: 'after', state: STATE })).toMatchObject({ failure_mode: 'NORMAL', policy_source: expect.stringMatching(/^(ML|SAFETY_OVERRIDE)$/) });
  });

  it('incidents of one type at most every 10 s; the events in between are counted into the next', async () => {
    let now = Date.parse('2026-11-26T10:00:00Z');
    const { s, dir } = await fresh({ clock: () => now, config: { engine: { stale_after_s: 2 } } });
    const stale = (id: string) => s.handle({ agent_id: id, state: { ...STATE, timestamp: now / 1000 - 60 } });
    expect(await stale('a')).toMatchObject({ fallback_reason: 'STALE_STATE_DETECTED' });
    now += 5_000;
    expect(await stale('b')).toMatchObject({ fallback_reason: 'STALE_STATE_DETECTED' });
    now += 4_999;
    expect(await stale('c')).toMatchObject({ fallback_reason: 'STALE_STATE_DETECTED' });
    await s.failures.drain();
    expect(listIncidents(join(dir, 'failures')).filter((i) => i.type === 'STALE_STATE')).toHaveLength(1);
    expect(s.control.state.failure.incident_count).toBe(1);
    now += 1;                                               // 10 s after the first
    await stale('d');
    await s.failures.drain();
    const incs = listIncidents(join(dir, 'failures')).filter((i) => i.type === 'STALE_STATE');
    expect(incs).toHaveLength(2);
    expect(incs[1].details).toMatchObject({ agent_id: 'd', similar_events_since_last_incident: 2 });
    expect(s.control.state.failure.incident_count).toBe(2);
  });

  it('learning pauses when quarantined experiences reach 5% of the window: 49 of 1000 do not, the 50th does', async () => {
    const { s } = await fresh({ config: { failures: { incident_min_interval_s: 0 } } });
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'C' } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'C' });
    let last = (await s.handle({ agent_id: 'q', state: STATE })) as CycleReply;
    let bad = 0;
    for (let i = 0; i < 980; i++) {
      const quarantine = i % 20 === 0 && bad < 49;
      if (quarantine) bad++;
      last = (await s.handle({ agent_id: 'q', state: STATE, intent_taken: quarantine ? 'FLY' : last.intent, result: { outcomes: { is_alive: true } } })) as CycleReply;
      expect(last.status).toBe('OK');
    }
    expect(bad).toBe(49);
    expect(s.engine.stats.quarantined).toBe(49);
    expect(mode(s)).toBe('NORMAL');
    last = (await s.handle({ agent_id: 'q', state: STATE, intent_taken: 'FLY', result: { outcomes: { is_alive: true } } })) as CycleReply;
    expect(last.failure_mode).toBe('SHADOW_LEARNING_PAUSE');
    expect(mode(s)).toBe('SHADOW_LEARNING_PAUSE');
    expect(s.control.state.failure.last_failure).toMatchObject({ type: 'MALFORMED_INPUT', incident_id: expect.any(String) });
  });

  it('a second EMERGENCY_LOCKDOWN changes nothing (same latch, same state version)', async () => {
    const { s } = await fresh();
    expect(await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP, reason: 'first' })).toMatchObject({ status: 'OK' });
    const v = s.control.state.version, since = s.control.state.lockdown.since;
    expect(await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-02', reason: 'second' })).toMatchObject({ status: 'OK', summary: expect.stringContaining('already active') });
    expect(s.control.state.version).toBe(v);
    expect(s.control.state.lockdown).toMatchObject({ since, operator_id: OP, reason: 'first' });
  });
});

describe('whose SAFE_MODE it is', () => {
  it('a failure that changes the mode gets its incident even inside the rate limit (10 s)', async () => {
    const { s, dir } = await fresh();
    s.failures.handle({ type: 'CONTRACT_BREACH', detail: 'first (test)' });
    const first = s.control.state.failure.last_failure!.incident_id;
    expect(first).toEqual(expect.any(String));
    expect(await confirmed(s, { type: 'RESET_FAILURE_STATUS', operator_id: OP })).toMatchObject({ status: 'OK' });
    s.failures.handle({ type: 'CONTRACT_BREACH', detail: 'second, 0 s later (test)' });
    expect(mode(s)).toBe('SAFE_MODE');
    const second = s.control.state.failure.last_failure!.incident_id;
    expect(second).toEqual(expect.any(String));
    expect(second).not.toBe(first);
    // Same mode again: a repeat, spared by the rate limit (counted into the next).
    s.failures.handle({ type: 'CONTRACT_BREACH', detail: 'third, a repeat (test)' });
    expect(s.control.state.failure.last_failure!.incident_id).toBe(second);
    await s.failures.drain();
    expect(listIncidents(join(dir, 'failures')).map((i) => i.incident_id).sort()).toEqual([first, second].sort());
  });

  it('an incident file the disk refuses: READ_ONLY_DISK, counted in failure_status.incident_write_errors', async () => {
    const { s, dir } = await fresh();
    const failures = join(dir, 'failures');
    mkdirSync(failures, { recursive: true });
    execSync(`chattr +i ${failures}`);
    cleanups.push(() => { execSync(`chattr -i ${failures}`); });
    s.failures.handle({ type: 'CONTRACT_BREACH', detail: 'incident to a refusing disk (test)' });
    expect(mode(s)).toBe('SAFE_MODE');
    await s.failures.drain();
    await s.control.settled();
    const hb = (await s.handle({ type: 'HEARTBEAT' })) as Record<string, any>;
    expect(hb.failure_status).toMatchObject({ mode: 'READ_ONLY_DISK', incident_pending: false });
    expect(hb.failure_status.incident_write_errors).toBeGreaterThanOrEqual(1);
    expect(hb.monitoring.alerts.map((a: { type: string; level: string }) => `${a.level} ${a.type}`)).toContain('CRITICAL INCIDENT_WRITE');
  });

  it('a SAFE_MODE set by CONTRACT_BREACH is not ended by a later timeout\'s cycle count: it waits for a reset', async () => {
    const N = 10;
    const { s } = await fresh({ allowFaultInjection: true, config: { engine: { batch_timeout_ms: 100, pool_steal_us: 0 }, failures: { safe_mode_cycles: N } } });
    s.failures.handle({ type: 'CONTRACT_BREACH', detail: 'violation rate 0.2 > 0.1 (test)' });
    expect(mode(s)).toBe('SAFE_MODE');
    expect(await s.handle({ agent_id: 'h', state: STATE, __fault: 'hang' })).toMatchObject({ fallback_reason: 'INFERENCE_TIMEOUT', failure_mode: 'SAFE_MODE' });
    for (let i = 0; i < 2 * N; i++) await s.handle({ agent_id: `c${i}`, state: STATE });
    s.failures.tick();
    expect(mode(s)).toBe('SAFE_MODE');
    expect(await confirmed(s, { type: 'RESET_FAILURE_STATUS', operator_id: OP })).toMatchObject({ status: 'OK' });
    expect(mode(s)).toBe('NORMAL');
  });
});
