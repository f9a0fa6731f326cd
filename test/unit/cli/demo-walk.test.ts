// The demo's walk of the shadow path against a real sidecar (in-process,
// real data directory): it never says a model serves while the failure mode
// is not NORMAL, and says so once the mode is reset.
import { describe, it, expect, afterEach } from 'vitest';
import { walkShadowPath, briefly } from '../../../src/cli/demo-walk.js';
import { openSidecar, confirmed, drive } from '../../helpers/sidecar.js';
import { tmpDir } from '../../helpers/tmp.js';
import type { Sidecar } from '../../../src/sidecar.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

async function open(): Promise<Sidecar> {
  const t = tmpDir();
  // A gate that lets any candidate through once it has 50 shadow cycles: this test is about the walk, not the gate.
  const s = await openSidecar(t.dir, { config: { control: { gate: { min_shadow_cycles: 50, margin_reward: 100, off_policy_min_ess: 0, violation_tolerance: 1 } } } });
  cleanups.push(t.cleanup, () => s.close());
  return s;
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('demo walk', () => {
  it('promoted while the mode is SAFE_MODE: says it does not serve; after RESET_FAILURE_STATUS: "it now serves"', async () => {
    const s = await open();
    s.failures.handle({ type: 'CONTRACT_BREACH', detail: 'violation rate 0.1065 > 0.1 (test)' });
    await s.failures.drain();
    expect((s.heartbeat() as any).failure_status.mode).toBe('SAFE_MODE');
    const lines: string[] = [];
    const ac = new AbortController();
    const walk = walkShadowPath({ send: (c) => s.handle(c) as Promise<Record<string, unknown>>, version: 'M-Walk', operator: 'Op-01', everyMs: 50, signal: ac.signal, log: (l) => lines.push(l) });
    await until(() => lines.some((l) => l.startsWith('registered M-Walk')), 'registration');
    // Shadow cycles with outcomes, until the walk asks and gets its promotion.
    while (!lines.some((l) => l.startsWith('promoted M-Walk'))) {
      await drive(s, 64);
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => lines.some((l) => l.includes('failure mode is SAFE_MODE')), 'the SAFE_MODE line');
    expect((s.heartbeat() as any).active_model).toBe('M-Walk');
    await new Promise((r) => setTimeout(r, 300));
    expect(lines.filter((l) => l.includes('now serves'))).toEqual([]);
    const reset = await confirmed(s, { type: 'RESET_FAILURE_STATUS', operator_id: 'Op-01' });
    expect(reset.status).toBe('OK');
    const r = await walk;
    expect(r.outcome).toBe('serving');
    expect(lines.filter((l) => l.includes('it now serves'))).toHaveLength(1);
    expect(lines.findIndex((l) => l.includes('it now serves'))).toBeGreaterThan(lines.findIndex((l) => l.includes('failure mode is SAFE_MODE')));
    ac.abort();
  });

  it('stops when asked, without claiming anything, while the candidate waits for shadow cycles', async () => {
    const s = await open();
    const lines: string[] = [];
    const ac = new AbortController();
    const walk = walkShadowPath({ send: (c) => s.handle(c) as Promise<Record<string, unknown>>, version: 'M-Walk', operator: 'Op-01', everyMs: 50, signal: ac.signal, log: (l) => lines.push(l) });
    await until(() => lines.some((l) => l.startsWith('registered M-Walk')), 'registration');
    ac.abort();
    expect(await walk).toMatchObject({ outcome: 'stopped', asks: 0 });
    expect(lines.some((l) => /promoted|now serves/.test(l))).toBe(false);
    expect((s.heartbeat() as any).candidate_model).toBe('M-Walk');
  });

  it('a gate refusal reads as one short line: the code and the first reason', async () => {
    const s = await open();
    await s.handle({ type: 'REGISTER_MODEL', operator_id: 'Op-01', metadata: { version: 'M-Walk' } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: 'Op-01', version: 'M-Walk' });
    const r = (await s.handle({ type: 'PROMOTE_CANDIDATE', operator_id: 'Op-01' })) as Record<string, unknown>;
    expect(r).toMatchObject({ status: 'REJECTED', error: { code: 'E_GATE' } });
    expect(briefly(r)).toMatch(/^E_GATE: shadow_sample_size 0 < min_shadow_cycles 50$/);
  });
});

describe('demo walk: the health bars after a promotion', () => {
  async function walkWith(bars: { survival: number; violations: number }, maxVersions: number) {
    const s = await open();
    const lines: string[] = [];
    const ac = new AbortController();
    let done = false;
    const walk = walkShadowPath({ send: (c) => s.handle(c) as Promise<Record<string, unknown>>, version: 'M-Walk-1', operator: 'Op-01', everyMs: 20,
      bars, maxVersions, signal: ac.signal, log: (l) => lines.push(l) }).finally(() => { done = true; });
    // Cycles with outcomes until the walk is over: shadow cycles first, then the promoted model's own window.
    while (!done) { await drive(s, 64); await new Promise((r) => setTimeout(r, 5)); }
    return { s, lines, r: await walk };
  }

  it('a promoted model inside the bars passes the health bars', async () => {
    const { s, lines, r } = await walkWith({ survival: -1, violations: 2 }, 3);
    expect(r).toMatchObject({ outcome: 'serving', version: 'M-Walk-1', revision: 1 });
    const passed = lines.findIndex((l) => /^M-Walk-1 passes the health bars: survival [\d.]+, violations [\d.]+ over its last \d+ outcomes$/.test(l));
    expect(passed).toBeGreaterThan(0);
    // The bars are judged on the model's own decisions: after the watch (and its holdback arm) ended.
    const watching = lines.findIndex((l) => /^the sidecar's post-promotion watch of M-Walk-1: 5000 cycles with 10% of agents held back on the rules policy; the health bars are judged after it ends$/.test(l));
    const ended = lines.indexOf('the post-promotion watch of M-Walk-1 ended without a rollback');
    expect(watching).toBeGreaterThan(0);
    expect(ended).toBeGreaterThan(watching);
    expect(passed).toBeGreaterThan(ended);
    expect((s.heartbeat() as any).active_model).toBe('M-Walk-1');
  });

  it('a promoted model outside the bars is followed by a successor from its weights, promoted over it; the walk gives up after maxVersions', async () => {
    const { s, lines, r } = await walkWith({ survival: 1.01, violations: 2 }, 2);
    expect(r).toMatchObject({ outcome: 'failed', version: 'M-Walk-2', message: '2 version(s) promoted, none passed the health bars' });
    expect(lines.filter((l) => l.includes('FAILS the health bars'))).toHaveLength(2);
    expect(lines).toContain("training a successor, M-Walk-2, from M-Walk-1's weights, in shadow while M-Walk-1 serves");
    const hb = s.heartbeat() as any;
    expect(hb.active_model).toBe('M-Walk-2');
    expect(hb.model_registry.map((m: any) => [m.version, m.status])).toEqual([['M-Walk-1', 'ROLLBACK_TARGET'], ['M-Walk-2', 'PRODUCTION']]);
  });
});

describe('demo walk: the post-promotion watch', () => {
  it('a model rolled back during its watch is followed by a successor, and the bars are judged on that one after its own watch', async () => {
    const s = await open();
    const lines: string[] = [];
    const ac = new AbortController();
    let done = false;
    const walk = walkShadowPath({ send: (c) => s.handle(c) as Promise<Record<string, unknown>>, version: 'M-Walk-1', operator: 'Op-01', everyMs: 20,
      bars: { survival: -1, violations: 2 }, maxVersions: 2, signal: ac.signal, log: (l) => lines.push(l) }).finally(() => { done = true; });
    let rolledBack = false;
    while (!done) {
      await drive(s, 64);
      // The watch's automatic rollback, as containment commits it when the promoted model is credibly worse than the holdback arm.
      if (!rolledBack && lines.some((l) => l.startsWith("the sidecar's post-promotion watch of M-Walk-1"))) {
        rolledBack = true;
        expect(s.control.system({ type: 'AUTO_ROLLBACK', detail: 'credibly worse than the holdback arm (test)', incident_id: 'i-test' })).toBeTruthy();
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = await walk;
    expect(r).toMatchObject({ outcome: 'serving', version: 'M-Walk-2' });
    expect(lines.some((l) => /^the post-promotion watch rolled M-Walk-1 back \(.*\); active: the rules policy$/.test(l))).toBe(true);
    expect(lines).toContain("training a successor, M-Walk-2, from M-Walk-1's weights, in shadow while the policy it was rolled back to serves");
    expect(lines.filter((l) => l.includes('passes the health bars'))).toEqual([expect.stringMatching(/^M-Walk-2 passes/)]);
    expect(lines.indexOf('the post-promotion watch of M-Walk-2 ended without a rollback')).toBeLessThan(lines.findIndex((l) => l.startsWith('M-Walk-2 passes')));
    expect((s.heartbeat() as any).active_model).toBe('M-Walk-2');
  });
});

describe('demo walk: with an operators file', () => {
  it('authenticates every command but HEARTBEAT with its secret; without it the walk fails with E_AUTH, saying so', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { hashSecret } = await import('../../../src/control/operators.js');
    const t = tmpDir();
    cleanups.push(t.cleanup);
    const ops = join(t.dir, 'operators.json');
    writeFileSync(ops, JSON.stringify([{ id: 'Op-01', role: 'admin', secret_sha256: hashSecret('walk secret 1') }]));
    const s = await openSidecar(join(t.dir, 'data'), { operatorsFile: ops, config: { control: { gate: { min_shadow_cycles: 50, margin_reward: 100, off_policy_min_ess: 0, violation_tolerance: 1 } } } });
    cleanups.push(() => s.close());
    const send = (c: Record<string, unknown>) => s.handle(c) as Promise<Record<string, unknown>>;
    const ac = new AbortController();
    const denied = await walkShadowPath({ send, version: 'M-Walk', operator: 'Op-01', everyMs: 20, signal: ac.signal, log: () => {} });
    expect(denied).toMatchObject({ outcome: 'failed', message: expect.stringMatching(/^REGISTER_MODEL E_AUTH: /) });
    let done = false;
    const walk = walkShadowPath({ send, version: 'M-Walk', operator: 'Op-01', auth: 'walk secret 1', everyMs: 20, signal: ac.signal, log: () => {} }).finally(() => { done = true; });
    while (!done) { await drive(s, 64); await new Promise((r) => setTimeout(r, 5)); }
    expect(await walk).toMatchObject({ outcome: 'serving', version: 'M-Walk' });
  });
});
