// The operator runbook, end to end over real loopback sockets, through TCP
// and through HTTP: the shadow path (register, shadow, canary, two-step
// promotion), rollback, and a lockdown that survives a restart.
import { describe, it, expect, afterEach } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';
import { server } from '../helpers/server.js';
import { TcpClient, HttpClient } from '../../src/transport/client.js';
import { Arena } from '../../src/sim/arena.js';
import { drive } from '../../src/sim/experiment.js';
import type { RunningServer } from '../../src/server.js';
import { askUntilPass } from '../helpers/gate.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

interface Wire {
  cmd(req: Record<string, unknown>): Promise<Record<string, any>>;
  cycle(req: unknown): Promise<unknown>;
  close(): void;
}

async function wire(kind: 'tcp' | 'http', s: RunningServer): Promise<Wire> {
  if (kind === 'tcp') {
    const c = await TcpClient.connect('127.0.0.1', s.tcpPort!);
    return { cmd: (r) => c.request(r), cycle: (r) => c.request(r), close: () => c.close() };
  }
  const h = new HttpClient('127.0.0.1', s.httpPort!);
  return {
    cmd: async (r) => { const x = await h.command(r); expect(x.status).toBe(x.body.status === 'REJECTED' ? (x.body.error as any).code === 'E_AUTH' ? 403 : 409 : x.body.status === 'ERROR' ? 400 : 200); return x.body; },
    cycle: async (r) => (await h.cycle(r)).body, close: () => h.close(),
  };
}

const OP = 'Op-01';
async function twoStep(w: Wire, cmd: Record<string, unknown>): Promise<Record<string, any>> {
  const first = await w.cmd(cmd);
  expect(first.status, JSON.stringify(first)).toBe('REQUIRED_CONFIRMATION');
  expect(first.confirmation_token).toMatch(/^[0-9a-f]{16}\./);
  return w.cmd({ ...cmd, confirmation_token: first.confirmation_token });
}

describe.each(['tcp', 'http'] as const)('runbook over %s', (kind) => {
  it('shadow path: register → 1000 shadow cycles → canary → two-step promotion → rollback', async () => {
    const t = tmpDir();
    const s = await server(t.dir);
    cleanups.push(t.cleanup, () => s.close());
    const w = await wire(kind, s);
    cleanups.push(() => w.close());
    expect(await w.cmd({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M-MyModel-V1', architecture: 'mlp', hidden: 16 } })).toMatchObject({ status: 'OK' });
    expect(await w.cmd({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'M-MyModel-V1' })).toMatchObject({ status: 'OK' });
    // Canary arms are drawn per agent: a few hundred agents make a 5% arm of a dozen.
    const arena = new Arena({ seed: 5, agents: 256 });
    const rules = await drive((r) => w.cycle(r), arena, 6000);
    const hb = await w.cmd({ type: 'HEARTBEAT' });
    expect(hb.monitoring.metrics.evolution.shadow_sample_size).toBeGreaterThanOrEqual(1000);
    expect(hb.online_ml_metrics.learning_updates).toBeGreaterThan(1000);
    // More shadow learning before the canary: the candidate holds still while
    // a canary runs (the canary judges the weights a promotion would serve),
    // so it should start the canary well trained.
    await drive((r) => w.cycle(r), arena, 12_000);
    expect(await w.cmd({ type: 'SET_CANARY_RATIO', ratio: 0.05, operator_id: OP })).toMatchObject({ status: 'OK' });
    await drive((r) => w.cycle(r), arena, 2000);
    expect(s.sidecar.engine.stats.canaryCalls).toBeGreaterThan(30);
    // Asked again and again while the canary gathers evidence, as an operator would.
    const { reply: first, cycles } = await askUntilPass(() => w.cmd({ type: 'PROMOTE_CANDIDATE', operator_id: OP }), (n) => drive((r) => w.cycle(r), arena, n), 4000, 120_000);
    expect(first.status, `${cycles} more cycles: ${JSON.stringify(first.details?.gate?.reason)}`).toBe('REQUIRED_CONFIRMATION');
    expect(first.details.gate).toMatchObject({ pass: true, evidence: 'on_policy' });
    const promoted = await w.cmd({ type: 'PROMOTE_CANDIDATE', operator_id: OP, confirmation_token: first.confirmation_token });
    expect(promoted, JSON.stringify(promoted)).toMatchObject({ status: 'OK', active_model: 'M-MyModel-V1' });
    // What the gate promises: not worse than production (here the rules) by more than its margins
    // (survival 0.02; plus the noise of 3000 steps), and the violations it was shown to cut.
    const before = { ...s.sidecar.engine.stats.bySource };
    const after = await drive((r) => w.cycle(r), arena, 3000);
    // Should it fail: who served the 3000 cycles, the mode, the watch and the gate's figures.
    const why = JSON.stringify({ rules, after, cycles, before, served: s.sidecar.engine.stats.bySource,
      hb: await w.cmd({ type: 'HEARTBEAT' }).then((h) => ({ mode: h.failure_status, watch: h.watch, active: h.active_model, latency: h.monitoring?.metrics?.latency })),
      gate: first.details.gate.criteria.map((c: any) => [c.name, c.estimate, c.bound, c.samples]) });
    expect(after.survival, why).toBeGreaterThan(rules.survival - 0.02 - 0.02);
    expect(after.violations, why).toBeLessThan(rules.violations);

    // A second version, forced in, then the two-step rollback back to the first.
    expect(await w.cmd({ type: 'END_WATCH', operator_id: OP })).toMatchObject({ status: 'OK' });
    expect(await w.cmd({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M-MyModel-V2' } })).toMatchObject({ status: 'OK' });
    expect(await w.cmd({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'M-MyModel-V2' })).toMatchObject({ status: 'OK' });
    expect(await twoStep(w, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true })).toMatchObject({ status: 'OK', active_model: 'M-MyModel-V2' });
    expect(await twoStep(w, { type: 'ROLLBACK_MODEL', operator_id: OP })).toMatchObject({ status: 'OK' });
    expect(await w.cmd({ type: 'HEARTBEAT' })).toMatchObject({ active_model: 'M-MyModel-V1', active_revision: 1 });
  });

  it('lockdown → restart → still locked → two-step release', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    let s = await server(t.dir);
    let w = await wire(kind, s);
    expect(await w.cmd({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP, reason: 'drill' })).toMatchObject({ status: 'OK' });
    const locked = await drive((r) => w.cycle(r), new Arena({ seed: 9, agents: 8 }), 80);
    expect(s.sidecar.engine.stats.bySource.LOCKDOWN).toBe(80);
    expect(locked.steps).toBe(80); // 80 cycles, every one answered OK (drive throws otherwise), every one LOCKDOWN (above)
    expect(await w.cmd({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'X' } })).toMatchObject({ status: 'REJECTED', error: { code: 'E_LOCKDOWN' } });
    w.close();
    await s.close();
    s = await server(t.dir);
    cleanups.push(() => s.close());
    w = await wire(kind, s);
    cleanups.push(() => w.close());
    expect(await w.cmd({ type: 'HEARTBEAT' })).toMatchObject({ lockdown: { active: true, reason: 'drill' }, failure_status: { mode: 'LOCKDOWN' } });
    expect(await w.cycle({ agent_id: 'z', state: { health: 1 } })).toMatchObject({ intent: 'STOP', policy_source: 'LOCKDOWN' });
    expect(await twoStep(w, { type: 'UNRELEASE_LOCKDOWN', operator_id: OP })).toMatchObject({ status: 'OK' });
    const released = (await w.cycle({ agent_id: 'z', state: { health: 1 } })) as Record<string, unknown>;
    expect(released.status).toBe('OK');
    expect(released.policy_source).toEqual(expect.any(String));
    expect(released.policy_source).not.toBe('LOCKDOWN');
  });
});

describe('the runbook, word for word', () => {
  it('every JSON example of the operator runbook works as written, over TCP', async () => {
    const t = tmpDir();
    const s = await server(t.dir);
    cleanups.push(t.cleanup, () => s.close());
    const c = await TcpClient.connect('127.0.0.1', s.tcpPort!);
    cleanups.push(() => c.close());
    // 1. Registration
    expect(await c.request({ type: 'REGISTER_MODEL', metadata: { version: 'M-MyModel-V1' } })).toMatchObject({ status: 'OK' });
    // 2. Shadow evaluation, then 1000 cycles of traffic
    expect(await c.request({ type: 'SET_CANDIDATE_MODEL', version: 'M-MyModel-V1' })).toMatchObject({ status: 'OK' });
    const arena = new Arena({ seed: 2, agents: 256 });
    await drive((r) => c.request(r), arena, 3000);
    const hb = await c.request({ type: 'HEARTBEAT' }) as Record<string, any>;
    expect(hb.monitoring).toBeDefined();
    expect(hb.online_ml_metrics).toBeDefined();
    // 3. Canary test
    expect(await c.request({ type: 'SET_CANARY_RATIO', ratio: 0.05 })).toMatchObject({ status: 'OK' });
    // 4. Promotion, two steps: asked after every 4000 cycles until the canary's evidence suffices.
    const { reply: p1 } = await askUntilPass(() => c.request({ type: 'PROMOTE_CANDIDATE', operator_id: 'Op-01' }) as Promise<Record<string, any>>,
      (n) => drive((r) => c.request(r), arena, n), 4000, 120_000);
    expect(p1, JSON.stringify(p1)).toMatchObject({ status: 'REQUIRED_CONFIRMATION' });
    expect(await c.request({ type: 'PROMOTE_CANDIDATE', operator_id: 'Op-01', confirmation_token: p1.confirmation_token })).toMatchObject({ status: 'OK' });
    // 2A. Panic button; 2B. release (two steps)
    expect(await c.request({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01' })).toMatchObject({ status: 'OK' });
    expect(await c.request({ agent_id: 'x', state: { health: 1 } })).toMatchObject({ intent: 'STOP' });
    const u1 = await c.request({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Op-01' });
    expect(await c.request({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Op-01', confirmation_token: u1.confirmation_token })).toMatchObject({ status: 'OK' });
    // 2C. Instant rollback: nothing to roll back to yet (the first production), a clear refusal.
    expect(await c.request({ type: 'ROLLBACK_MODEL', operator_id: 'Op-01' })).toMatchObject({ status: 'REJECTED', error: { code: 'E_NO_ROLLBACK_TARGET' } });
    // The audit names who did what: the runbook's unnamed steps as anonymous.
    const log = (await import('node:fs')).readFileSync(`${t.dir}/audit/audit.log`, 'utf8');
    expect(log).toContain('"operator_id":"anonymous"');
  });
});
