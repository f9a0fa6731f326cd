// The runbook's control flows against a real data directory, in-process.
import { describe, it, expect, afterEach } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar, confirmed, drive } from '../helpers/sidecar.js';
import { askUntilPass } from '../helpers/gate.js';
import { verifyLogFile } from '../../src/audit/log.js';
import { hashSecret } from '../../src/control/operators.js';
import type { Sidecar } from '../../src/sidecar.js';
import { writeFileSync } from 'node:fs';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
async function fresh(extra = {}): Promise<{ s: Sidecar; dir: string }> {
  const t = tmpDir();
  const s = await openSidecar(t.dir, extra);
  cleanups.push(t.cleanup, () => s.close());
  return { s, dir: t.dir };
}
const OP = 'Op-01';

// vitest.config.ts runs this file twice: project `main` (kernel on the calling
// thread) and project `threads` (one kernel worker thread). This pins that the
// `threads` variant really runs over a worker, so it cannot silently degrade.
it('runs the kernel on the pool threads of its vitest project (main: 0, threads: 1)', async ({ task }) => {
  const { s } = await fresh();
  const want = task.file.projectName === 'threads' ? 1 : Number(process.env.SP_TEST_POOL_THREADS ?? 0);
  expect(s.engine.config.pool_threads).toBe(want);
  if (task.file.projectName === 'threads') expect(want).toBe(1);
});

describe('runbook: the shadow path', () => {
  it('register → candidate → 1000 shadow cycles → canary → two-step promotion', async () => {
    const { s, dir } = await fresh();
    const reg = await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M-MyModel-V1' } });
    expect(reg).toMatchObject({ status: 'OK', version: 'M-MyModel-V1', revision: 0, audit_seq: expect.any(Number), audit_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M-MyModel-V1' } })).toMatchObject({ status: 'REJECTED', error: { code: 'E_DUPLICATE_VERSION' } });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'M-MyModel-V1' })).toMatchObject({ status: 'OK' });

    // Too early: the gate names the shortfall.
    const early = await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP });
    expect(early).toMatchObject({ status: 'REJECTED', error: { code: 'E_GATE' }, details: { gate: { pass: false, criteria: expect.arrayContaining([{ name: 'shadow_cycles', evidence: 'off_policy', estimate: 0, bound: null, margin: 1000, samples: 0, verdict: 'insufficient' }]) } } });
    expect((early as any).details.gate.missing).toMatch(/1000 more shadow cycles/);

    const replies = await drive(s, 1200);
    expect(replies.length).toBe(1200);
    expect(replies.every((r) => r.shadow?.version === 'M-MyModel-V1')).toBe(true);
    const hb = (await s.handle({ type: 'HEARTBEAT' })) as Record<string, any>;
    expect(hb.monitoring.metrics.evolution).toMatchObject({ candidate_version: 'M-MyModel-V1' });
    expect(hb.monitoring.metrics.evolution.shadow_sample_size).toBeGreaterThanOrEqual(1000);
    expect(hb.online_ml_metrics.learning_updates).toBeGreaterThan(1000);

    // Shadow alone does not suffice here: the refusal says to run a canary, and about how much.
    const noCanary = (await s.handle({ type: 'PROMOTE_CANDIDATE', operator_id: OP })) as Record<string, any>;
    expect(noCanary).toMatchObject({ status: 'REJECTED', error: { code: 'E_GATE' } });
    expect(noCanary.details.gate.missing).toMatch(/no canary is running: set one \(SET_CANARY_RATIO/);

    expect(await s.handle({ type: 'SET_CANARY_RATIO', operator_id: OP, ratio: 0.1 })).toMatchObject({ status: 'OK' });
    const canary = await drive(s, 2000, 400);
    expect(canary.length).toBe(2000);
    const canaryAgents = new Set(canary.filter((r) => r.model_version === 'M-MyModel-V1').map((r) => r.agent_id));
    expect(canaryAgents.size).toBeGreaterThan(2);
    // Sticky: every cycle of a canary agent is the candidate's.
    for (const r of canary) if (canaryAgents.has(r.agent_id)) expect(r.model_version).toBe('M-MyModel-V1');

    const { reply: step1 } = await askUntilPass(() => s.handle({ type: 'PROMOTE_CANDIDATE', operator_id: OP }) as Promise<Record<string, any>>, (n) => drive(s, n, 400), 2000, 80_000);
    expect(step1, JSON.stringify(step1.details)).toMatchObject({ status: 'REQUIRED_CONFIRMATION', type: 'PROMOTE_CANDIDATE', operator_id: OP, summary: expect.stringContaining('M-MyModel-V1') });
    expect(step1.details.gate).toMatchObject({ pass: true, evidence: 'on_policy' });
    for (const c of step1.details.gate.criteria.filter((x: any) => x.evidence === 'on_policy')) {
      expect(c.verdict).toBe('pass');
      expect(c.bound).toBeGreaterThan(-c.margin);
      expect(c.samples).toBeGreaterThan(0);
    }
    expect(Date.parse(step1.expires_at)).toBeGreaterThan(Date.now());
    const step2 = await s.handle({ type: 'PROMOTE_CANDIDATE', operator_id: OP, confirmation_token: step1.confirmation_token });
    expect(step2).toMatchObject({ status: 'OK', active_model: 'M-MyModel-V1', revision: 1 });
    const after = (await s.handle({ type: 'HEARTBEAT' })) as Record<string, any>;
    expect(after).toMatchObject({ active_model: 'M-MyModel-V1', active_revision: 1, candidate_model: null, canary_ratio: 0 });
    const entry = after.model_registry.find((m: any) => m.version === 'M-MyModel-V1');
    expect(entry).toMatchObject({ status: 'PRODUCTION', revision: 1, weights_sha256: (step2 as any).weights_sha256 });
    // Production now decides, from the frozen weights (agents outside the watch's holdback arm).
    const served = (await drive(s, 400, 100)).filter((r) => r.model_version === 'M-MyModel-V1');
    expect(served.length).toBeGreaterThan(200);
    expect(served.every((r) => ['ML', 'SAFETY_OVERRIDE'].includes(r.policy_source))).toBe(true);
    // The token is spent.
    expect(await s.handle({ type: 'PROMOTE_CANDIDATE', operator_id: OP, confirmation_token: step1.confirmation_token })).toMatchObject({ status: 'REJECTED', error: { code: 'E_TOKEN_USED' } });
    expect((await verifyLogFile(join(dir, 'audit', 'audit.log'))).ok).toBe(true);
  });

  it('a forced promotion skips the gate and is audited as forced', async () => {
    const { s, dir } = await fresh();
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V1', architecture: 'mlp', hidden: 8 } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V1' });
    const r = await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true });
    expect(r).toMatchObject({ status: 'OK', active_model: 'V1' });
    const log = readFileSync(join(dir, 'audit', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.some((x) => x.payload?.type === 'PROMOTE_CANDIDATE' && x.payload.forced === true && x.payload.status === 'OK')).toBe(true);
  });

  it('rollback is two-step, a stack, and refuses an empty stack', async () => {
    const { s } = await fresh();
    for (const v of ['V1', 'V2', 'V3']) {
      await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: v } });
      await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: v });
      expect(await confirmed(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true })).toMatchObject({ status: 'OK' });
      // The post-promotion watch holds a new candidate back until it ends.
      expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V1' })).toMatchObject({ status: 'REJECTED', error: { code: v === 'V1' ? 'E_ALREADY_PRODUCTION' : 'E_WATCH_ACTIVE' } });
      expect(await s.handle({ type: 'END_WATCH', operator_id: OP })).toMatchObject({ status: 'OK' });
      expect(await s.handle({ type: 'END_WATCH', operator_id: OP })).toMatchObject({ status: 'REJECTED', error: { code: 'E_NO_WATCH' } });
    }
    const hb = async () => ((await s.handle({ type: 'HEARTBEAT' })) as any).active_model;
    expect(await hb()).toBe('V3');
    expect(await s.handle({ type: 'ROLLBACK_MODEL', operator_id: OP })).toMatchObject({ status: 'REQUIRED_CONFIRMATION' });
    expect(await hb()).toBe('V3'); // nothing happens before confirmation
    expect(await confirmed(s, { type: 'ROLLBACK_MODEL', operator_id: OP })).toMatchObject({ status: 'OK' });
    expect(await hb()).toBe('V2');
    expect(await confirmed(s, { type: 'ROLLBACK_MODEL', operator_id: OP })).toMatchObject({ status: 'OK' });
    expect(await hb()).toBe('V1');
    expect(await s.handle({ type: 'ROLLBACK_MODEL', operator_id: OP })).toMatchObject({ status: 'REJECTED', error: { code: 'E_NO_ROLLBACK_TARGET' } });
  });
});

describe('runbook: emergency lockdown', () => {
  it('forces STOP, freezes learning, blocks management; release is two-step', async () => {
    const { s } = await fresh();
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'V1' } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'V1' });
    await drive(s, 40);
    const lock = await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP, reason: 'erratic' });
    expect(lock).toMatchObject({ status: 'OK' });
    const updates = s.engine.stats.learningUpdates;
    const rs = await drive(s, 80);
    expect(rs.every((r) => r.intent === 'STOP' && r.policy_source === 'LOCKDOWN' && r.failure_mode === 'LOCKDOWN')).toBe(true);
    expect(s.engine.stats.learningUpdates).toBe(updates);
    for (const cmd of [{ type: 'REGISTER_MODEL', metadata: { version: 'V2' } }, { type: 'SET_CANDIDATE_MODEL', version: 'V1' },
      { type: 'SET_CANARY_RATIO', ratio: 0.01 }, { type: 'PROMOTE_CANDIDATE' }, { type: 'ROLLBACK_MODEL' }]) {
      expect(await s.handle({ ...cmd, operator_id: OP })).toMatchObject({ status: 'REJECTED', error: { code: 'E_LOCKDOWN' } });
    }
    const hb = (await s.handle({ type: 'HEARTBEAT' })) as any;
    expect(hb).toMatchObject({ lockdown: { active: true, operator_id: OP, reason: 'erratic' }, learning_state: 'FROZEN', failure_status: { mode: 'LOCKDOWN' } });
    expect(await s.handle({ type: 'RESET_FAILURE_STATUS', operator_id: OP })).toMatchObject({ status: 'REJECTED', error: { code: 'E_ALREADY_NORMAL' } });
    const rel1 = await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: OP });
    expect(rel1).toMatchObject({ status: 'REQUIRED_CONFIRMATION' });
    expect((await drive(s, 8)).every((r) => r.intent === 'STOP')).toBe(true); // still locked before confirmation
    expect(await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: OP, confirmation_token: (rel1 as any).confirmation_token })).toMatchObject({ status: 'OK' });
    expect((await drive(s, 16)).some((r) => r.policy_source !== 'LOCKDOWN')).toBe(true);
  });

  it('a token issued before the state changed is refused (E_TOKEN_STATE)', async () => {
    const { s } = await fresh();
    await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP });
    const t = (await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: OP })) as any;
    await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP }); // idempotent: no change
    expect(s.control.system({ type: 'FAILURE', mode: 'SAFE_MODE', failure: { type: 'SURVIVAL_CRASH', detail: 'test', incident_id: null }, lockdown: false, cancel_canary: false })).not.toBeNull();
    expect(await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: OP, confirmation_token: t.confirmation_token })).toMatchObject({ status: 'REJECTED', error: { code: 'E_TOKEN_STATE' } });
  });
});

describe('commands: input, operators and audit', () => {
  it('answers bad commands with stable codes, each audited', async () => {
    const { s } = await fresh();
    const before = s.audit.length;
    expect(await s.handle({ type: 'FLY' })).toMatchObject({ status: 'ERROR', error: { code: 'E_UNKNOWN_COMMAND' }, audit_seq: before + 1 });
    expect(await s.handle({ type: 'SET_CANARY_RATIO', operator_id: OP, ratio: 2 })).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_COMMAND' } });
    expect(await s.handle({ type: 'SET_CANARY_RATIO', ratio: 0.01 })).toMatchObject({ status: 'REJECTED', error: { code: 'E_NO_CANDIDATE' } });
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'bad version!' } })).toMatchObject({ status: 'REJECTED', error: { code: 'E_BAD_VERSION' } });
    expect(await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'W' }, weights: { w1: [[1]], b1: [0] } })).toMatchObject({ status: 'REJECTED', error: { code: 'E_MODEL_WEIGHTS' } });
    expect(await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'nope' })).toMatchObject({ status: 'REJECTED', error: { code: 'E_UNKNOWN_MODEL' } });
    expect(await s.handle({ type: 'SET_CANARY_RATIO', operator_id: OP, ratio: 0.5, bypass_safety_cap: true })).toMatchObject({ status: 'REJECTED', error: { code: 'E_NO_CANDIDATE' } });
    expect(await s.handle({ hello: 1 })).toMatchObject({ status: 'ERROR', error: { code: 'E_UNKNOWN_MESSAGE' } });
    expect(s.audit.length).toBe(before + 7);
  });

  it('with an operators file: authenticates, enforces roles, never echoes or audits a secret', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'operators.json');
    writeFileSync(file, JSON.stringify([
      { id: 'viewer-1', role: 'viewer', secret_sha256: hashSecret('v-secret-0123456789') },
      { id: 'op-1', role: 'operator', secret_sha256: hashSecret('o-secret-0123456789') },
      { id: 'admin-1', role: 'admin', secret_sha256: hashSecret('a-secret-0123456789') },
      { id: 'admin-2', role: 'admin', secret_sha256: hashSecret('b-secret-0123456789') },
    ]));
    const { s, dir } = await fresh({ operatorsFile: file, config: { control: { two_person_rule: true } } });
    expect(await s.handle({ type: 'HEARTBEAT' })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'op-1' })).toMatchObject({ status: 'REJECTED', error: { code: 'E_AUTH' } });
    expect(await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'op-1', auth: 'wrong' })).toMatchObject({ status: 'REJECTED', error: { code: 'E_AUTH' } });
    expect(await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'viewer-1', auth: 'v-secret-0123456789' })).toMatchObject({ status: 'REJECTED', error: { code: 'E_AUTH' } });
    expect(await s.handle({ type: 'LIST_MODELS', operator_id: 'viewer-1', auth: 'v-secret-0123456789' })).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'op-1' }, 'o-secret-0123456789')).toMatchObject({ status: 'OK' });
    expect(await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'op-1', auth: 'o-secret-0123456789' })).toMatchObject({ status: 'REJECTED', error: { code: 'E_AUTH' } });
    // Two-person rule: admin-1 asks, admin-1 cannot confirm, admin-2 can.
    const ask = (await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'admin-1', auth: 'a-secret-0123456789' })) as any;
    expect(ask.status).toBe('REQUIRED_CONFIRMATION');
    expect(await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'admin-1', auth: 'a-secret-0123456789', confirmation_token: ask.confirmation_token }))
      .toMatchObject({ status: 'REJECTED', error: { code: 'E_TOKEN_SAME_OPERATOR' } });
    const ask2 = (await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'admin-1', auth: 'a-secret-0123456789' })) as any;
    expect(await s.handle({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'admin-2', auth: 'b-secret-0123456789', confirmation_token: ask2.confirmation_token })).toMatchObject({ status: 'OK' });
    await s.audit.drain();
    const log = readFileSync(join(dir, 'audit', 'audit.log'), 'utf8');
    for (const secret of ['v-secret', 'o-secret', 'a-secret', 'b-secret']) expect(log).not.toContain(secret);
  });
});
