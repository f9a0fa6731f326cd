// Every command in every state, as a table: the pure transition's verdict
// (accepted with which effects, or the refusal code).
import { describe, it, expect } from 'vitest';
import { transition, needsConfirmation, type Command } from '../../../src/control/lifecycle.js';
import { initialState, type ControlState } from '../../../src/store/control-state.js';
import type { GateVerdict } from '../../../src/control/gate.js';

const PASS: GateVerdict = { pass: true, evidence: 'on_policy', criteria: [], reason: 'passes', missing: null, alpha: 0.05 };
const FAIL: GateVerdict = { pass: false, evidence: null, criteria: [{ name: 'shadow_cycles', evidence: 'off_policy', estimate: 10, bound: null, margin: 1000, samples: 10, verdict: 'insufficient' }],
  reason: 'shadow_sample_size 10 < min_shadow_cycles 1000', missing: '990 more shadow cycles', alpha: 0.05 };
const revs: Record<string, number> = { A: 0, B: 1, C: 0 };
const WATCH = { cycles: 5000, holdback_ratio: 0.1 };
const ctx = (gate: GateVerdict = PASS) => ({ now: '2026-11-26T10:00:00Z', operator: 'Op-01', canaryCap: 0.1, latestRevision: (v: string) => revs[v] ?? -1, gate, watch: WATCH });

const S0 = initialState();
const withCand: ControlState = { ...S0, version: 3, candidate: { version: 'B', revision: 1 } };
const prodAndCand: ControlState = { ...S0, version: 5, active: { version: 'A', revision: 0 }, candidate: { version: 'B', revision: 1 }, canary_ratio: 0.05,
  rollback_stack: [{ version: 'C', revision: 0 }] };
const locked: ControlState = { ...prodAndCand, lockdown: { active: true, since: 't', operator_id: 'Op-02', reason: 'x' } };
const safeMode: ControlState = { ...prodAndCand, failure: { mode: 'SAFE_MODE', since: 't', last_failure: null, incident_count: 1 } };
const watching: ControlState = { ...S0, version: 7, active: { version: 'B', revision: 2 }, rollback_stack: [{ version: 'A', revision: 0 }],
  watch: { promoted: { version: 'B', revision: 2 }, previous: { version: 'A', revision: 0 }, started_at: 't', salt: 9, holdback_ratio: 0.1, cycles: 5000, forced: false } };
const states: Record<string, ControlState> = { empty: S0, candidate: withCand, production: prodAndCand, lockdown: locked, safe_mode: safeMode, watch: watching };

const commands: Record<string, Command> = {
  register_new: { type: 'REGISTER_MODEL', version: 'D' },
  register_dup: { type: 'REGISTER_MODEL', version: 'A' },
  register_bad_id: { type: 'REGISTER_MODEL', version: '-bad' },
  candidate_B: { type: 'SET_CANDIDATE_MODEL', version: 'B' },
  candidate_A: { type: 'SET_CANDIDATE_MODEL', version: 'A' },
  candidate_unknown: { type: 'SET_CANDIDATE_MODEL', version: 'Z' },
  canary_low: { type: 'SET_CANARY_RATIO', ratio: 0.05, bypass_safety_cap: false },
  canary_high: { type: 'SET_CANARY_RATIO', ratio: 0.5, bypass_safety_cap: false },
  canary_high_bypass: { type: 'SET_CANARY_RATIO', ratio: 0.5, bypass_safety_cap: true },
  promote: { type: 'PROMOTE_CANDIDATE', force: false },
  promote_force: { type: 'PROMOTE_CANDIDATE', force: true },
  rollback: { type: 'ROLLBACK_MODEL' },
  lockdown: { type: 'EMERGENCY_LOCKDOWN', reason: 'test' },
  unrelease: { type: 'UNRELEASE_LOCKDOWN' },
  reset: { type: 'RESET_FAILURE_STATUS' },
  end_watch: { type: 'END_WATCH' },
  auto_rollback: { type: 'AUTO_ROLLBACK', detail: 'worse', incident_id: 'i-1' },
};

// Expected outcome per command per state: 'ok' or the refusal code.
const table: Record<string, Record<string, string>> = {
  register_new: { empty: 'ok', candidate: 'ok', production: 'ok', lockdown: 'E_LOCKDOWN', safe_mode: 'ok', watch: 'ok' },
  register_dup: { empty: 'E_DUPLICATE_VERSION', candidate: 'E_DUPLICATE_VERSION', production: 'E_DUPLICATE_VERSION', lockdown: 'E_LOCKDOWN', safe_mode: 'E_DUPLICATE_VERSION', watch: 'E_DUPLICATE_VERSION' },
  register_bad_id: { empty: 'E_BAD_VERSION', candidate: 'E_BAD_VERSION', production: 'E_BAD_VERSION', lockdown: 'E_LOCKDOWN', safe_mode: 'E_BAD_VERSION', watch: 'E_BAD_VERSION' },
  candidate_B: { empty: 'ok', candidate: 'ok', production: 'ok', lockdown: 'E_LOCKDOWN', safe_mode: 'ok', watch: 'E_ALREADY_PRODUCTION' },
  candidate_A: { empty: 'ok', candidate: 'ok', production: 'E_ALREADY_PRODUCTION', lockdown: 'E_LOCKDOWN', safe_mode: 'E_ALREADY_PRODUCTION', watch: 'E_WATCH_ACTIVE' },
  candidate_unknown: { empty: 'E_UNKNOWN_MODEL', candidate: 'E_UNKNOWN_MODEL', production: 'E_UNKNOWN_MODEL', lockdown: 'E_LOCKDOWN', safe_mode: 'E_UNKNOWN_MODEL', watch: 'E_UNKNOWN_MODEL' },
  canary_low: { empty: 'E_NO_CANDIDATE', candidate: 'ok', production: 'ok', lockdown: 'E_LOCKDOWN', safe_mode: 'ok', watch: 'E_NO_CANDIDATE' },
  canary_high: { empty: 'E_NO_CANDIDATE', candidate: 'E_CANARY_CAP', production: 'E_CANARY_CAP', lockdown: 'E_LOCKDOWN', safe_mode: 'E_CANARY_CAP', watch: 'E_NO_CANDIDATE' },
  canary_high_bypass: { empty: 'E_NO_CANDIDATE', candidate: 'ok', production: 'ok', lockdown: 'E_LOCKDOWN', safe_mode: 'ok', watch: 'E_NO_CANDIDATE' },
  promote: { empty: 'E_NO_CANDIDATE', candidate: 'ok', production: 'ok', lockdown: 'E_LOCKDOWN', safe_mode: 'ok', watch: 'E_NO_CANDIDATE' },
  promote_force: { empty: 'E_NO_CANDIDATE', candidate: 'ok', production: 'ok', lockdown: 'E_LOCKDOWN', safe_mode: 'ok', watch: 'E_NO_CANDIDATE' },
  rollback: { empty: 'E_NO_ROLLBACK_TARGET', candidate: 'E_NO_ROLLBACK_TARGET', production: 'ok', lockdown: 'E_LOCKDOWN', safe_mode: 'ok', watch: 'ok' },
  lockdown: { empty: 'ok', candidate: 'ok', production: 'ok', lockdown: 'ok', safe_mode: 'ok', watch: 'ok' },
  unrelease: { empty: 'E_NOT_LOCKED', candidate: 'E_NOT_LOCKED', production: 'E_NOT_LOCKED', lockdown: 'ok', safe_mode: 'E_NOT_LOCKED', watch: 'E_NOT_LOCKED' },
  reset: { empty: 'E_ALREADY_NORMAL', candidate: 'E_ALREADY_NORMAL', production: 'E_ALREADY_NORMAL', lockdown: 'E_ALREADY_NORMAL', safe_mode: 'ok', watch: 'E_ALREADY_NORMAL' },
  end_watch: { empty: 'E_NO_WATCH', candidate: 'E_NO_WATCH', production: 'E_NO_WATCH', lockdown: 'E_NO_WATCH', safe_mode: 'E_NO_WATCH', watch: 'ok' },
  auto_rollback: { empty: 'E_NO_WATCH', candidate: 'E_NO_WATCH', production: 'E_NO_WATCH', lockdown: 'E_LOCKDOWN', safe_mode: 'E_NO_WATCH', watch: 'ok' },
};

describe('lifecycle transition table', () => {
  for (const [cname, cmd] of Object.entries(commands)) {
    for (const [sname, s] of Object.entries(states)) {
      it(`${cname} in ${sname} → ${table[cname][sname]}`, () => {
        const frozen = JSON.stringify(s);
        const t = transition(s, cmd, ctx());
        expect(t.ok ? 'ok' : t.code).toBe(table[cname][sname]);
        expect(JSON.stringify(s)).toBe(frozen); // pure: the input state is never changed
        if (t.ok && t.next !== s) expect(t.next.version).toBe(s.version + 1);
        if (t.ok && t.effects.some((e) => e.kind !== 'write_registered')) expect(t.effects.at(-1)).toEqual({ kind: 'persist' });
      });
    }
  }
});

describe('lifecycle semantics', () => {
  it('promotion freezes the candidate into a new revision, pushes production, clears candidate and canary', () => {
    const t = transition(prodAndCand, commands.promote, ctx());
    expect(t.ok).toBe(true);
    if (!t.ok) return;
    expect(t.next.active).toEqual({ version: 'B', revision: 2 });
    expect(t.next.rollback_stack).toEqual([{ version: 'C', revision: 0 }, { version: 'A', revision: 0 }]);
    expect(t.next.candidate).toBeNull();
    expect(t.next.canary_ratio).toBe(0);
    expect(t.effects[0]).toEqual({ kind: 'freeze_candidate', into: { version: 'B', revision: 2 } });
  });

  it('the gate refuses with E_GATE and its verdict (criteria, what is missing); force skips it', () => {
    const t = transition(prodAndCand, commands.promote, ctx(FAIL));
    expect(t).toMatchObject({ ok: false, code: 'E_GATE', details: { gate: { pass: false, missing: '990 more shadow cycles', criteria: [{ name: 'shadow_cycles', verdict: 'insufficient' }] } } });
    expect(transition(prodAndCand, commands.promote_force, ctx(FAIL)).ok).toBe(true);
  });

  it('rollback is a stack: two rollbacks go two versions back, never ping-pong', () => {
    const s: ControlState = { ...S0, active: { version: 'C', revision: 0 }, rollback_stack: [{ version: 'A', revision: 0 }, { version: 'B', revision: 1 }] };
    const t1 = transition(s, commands.rollback, ctx());
    if (!t1.ok) throw new Error('rollback 1');
    expect(t1.next.active).toEqual({ version: 'B', revision: 1 });
    const t2 = transition(t1.next, commands.rollback, ctx());
    if (!t2.ok) throw new Error('rollback 2');
    expect(t2.next.active).toEqual({ version: 'A', revision: 0 });
    expect(transition(t2.next, commands.rollback, ctx())).toMatchObject({ ok: false, code: 'E_NO_ROLLBACK_TARGET' });
  });

  it('a new candidate starts with no canary traffic', () => {
    const t = transition(prodAndCand, { type: 'SET_CANDIDATE_MODEL', version: 'C' }, ctx());
    expect(t.ok && t.next.canary_ratio).toBe(0);
  });

  it('promotion starts a watch: the previous production is held back for an arm of agents', () => {
    const t = transition(prodAndCand, commands.promote, ctx());
    if (!t.ok) throw new Error('promote');
    expect(t.next.watch).toMatchObject({ promoted: { version: 'B', revision: 2 }, previous: { version: 'A', revision: 0 }, holdback_ratio: 0.1, cycles: 5000, forced: false });
    expect(t.effects).toContainEqual({ kind: 'load', role: 'holdback', ref: { version: 'A', revision: 0 } });
    const forced = transition(withCand, commands.promote_force, ctx(FAIL));
    if (!forced.ok) throw new Error('forced');
    expect(forced.next.watch).toMatchObject({ previous: null, forced: true });
    const none = transition(prodAndCand, commands.promote, { ...ctx(), watch: { cycles: 0, holdback_ratio: 0.1 } });
    expect(none.ok && none.next.watch).toBeNull();
  });

  it('the automatic rollback returns to the previous production (or the rules), records its incident and ends the watch', () => {
    const t = transition(watching, commands.auto_rollback, ctx());
    if (!t.ok) throw new Error('auto rollback');
    expect(t.next.active).toEqual({ version: 'A', revision: 0 });
    expect(t.next.rollback_stack).toEqual([]);
    expect(t.next.watch).toBeNull();
    expect(t.next.failure).toMatchObject({ mode: 'NORMAL', incident_count: 1, last_failure: { type: 'AUTO_ROLLBACK', incident_id: 'i-1' } });
    expect(t.effects).toEqual([{ kind: 'load', role: 'production', ref: { version: 'A', revision: 0 } }, { kind: 'load', role: 'holdback', ref: null }, { kind: 'persist' }]);
    const overRules: ControlState = { ...watching, rollback_stack: [], watch: { ...watching.watch!, previous: null } };
    const r = transition(overRules, commands.auto_rollback, ctx());
    expect(r.ok && r.next.active).toBeNull();
  });

  it('END_WATCH ends the holdback; an operator rollback during a watch ends it too', () => {
    const e = transition(watching, commands.end_watch, ctx());
    expect(e.ok && e.next.watch).toBeNull();
    const r = transition(watching, commands.rollback, ctx());
    expect(r.ok && r.next.watch).toBeNull();
    expect(r.ok && r.next.active).toEqual({ version: 'A', revision: 0 });
  });

  it('a failure raises the mode by rank only, latches the lockdown, cancels the canary, counts its incident', () => {
    const f = (mode: 'SAFE_MODE' | 'SHADOW_LEARNING_PAUSE' | null, lockdown = false, cancel = false, id: string | null = 'x') =>
      ({ type: 'FAILURE', failure: { type: 'T', detail: 'd', incident_id: id }, mode, lockdown, cancel_canary: cancel }) as Command;
    const a = transition(prodAndCand, f('SAFE_MODE'), ctx());
    if (!a.ok) throw new Error('a');
    expect(a.next.failure).toMatchObject({ mode: 'SAFE_MODE', incident_count: 1, last_failure: { type: 'T', incident_id: 'x' } });
    const b = transition(a.next, f('SHADOW_LEARNING_PAUSE', false, false, null), ctx());
    expect(b.ok && b.next.failure.mode).toBe('SAFE_MODE'); // a lower mode never replaces a higher one
    expect(b.ok && b.next.failure.incident_count).toBe(1);
    const c = transition(prodAndCand, f(null, true, true), ctx());
    expect(c.ok && c.next.lockdown).toMatchObject({ active: true, operator_id: 'Op-01' });
    expect(c.ok && c.next.canary_ratio).toBe(0);
    expect(transition(locked, f(null, true), ctx()).ok).toBe(true); // containment is never blocked by the lockdown
  });

  it('the SAFE_MODE of an inference timeout expires; another SAFE_MODE does not', () => {
    const timeout: ControlState = { ...prodAndCand, failure: { mode: 'SAFE_MODE', since: 't', last_failure: { type: 'INFERENCE_TIMEOUT', at: 't', detail: '' }, incident_count: 1 } };
    const t = transition(timeout, { type: 'SAFE_MODE_EXPIRED' }, ctx());
    expect(t.ok && t.next.failure.mode).toBe('NORMAL');
    expect(transition(safeMode, { type: 'SAFE_MODE_EXPIRED' }, ctx()).ok).toBe(false);
  });

  it('the expiry of a timeout\'s SAFE_MODE never ends another mode, though the last failure was the timeout', () => {
    // A worse mode (TEMPORAL_LOCK) over the timeout's SAFE_MODE: its last
    // failure can still read INFERENCE_TIMEOUT; only the mode check keeps the
    // timeout's expiry from unlocking it (a mutant that drops it survived).
    const lockedAfterTimeout: ControlState = { ...prodAndCand, failure: { mode: 'TEMPORAL_LOCK', since: 't', last_failure: { type: 'INFERENCE_TIMEOUT', at: 't', detail: '' }, incident_count: 2 } };
    const t = transition(lockedAfterTimeout, { type: 'SAFE_MODE_EXPIRED' }, ctx());
    expect(t).toMatchObject({ ok: false, code: 'E_ALREADY_NORMAL' });
    expect(lockedAfterTimeout.failure.mode).toBe('TEMPORAL_LOCK');
    const inTimeout: ControlState = { ...lockedAfterTimeout, failure: { ...lockedAfterTimeout.failure, mode: 'SAFE_MODE' } };
    expect(transition(inTimeout, { type: 'SAFE_MODE_EXPIRED' }, ctx())).toMatchObject({ ok: true, next: { failure: { mode: 'NORMAL' } } });
  });

  it('setting a candidate draws a new canary salt; the same candidate set again gets another', () => {
    const a = transition(S0, commands.candidate_B, ctx());
    if (!a.ok) throw new Error('a');
    const b = transition(a.next, commands.candidate_B, ctx());
    if (!b.ok) throw new Error('b');
    expect(a.next.canary_salt).not.toBe(S0.canary_salt);
    expect(b.next.canary_salt).not.toBe(a.next.canary_salt);
  });

  it('needs confirmation for promote, rollback, release, reset, and a canary above the cap', () => {
    expect(Object.entries(commands).filter(([, c]) => needsConfirmation(c, 0.1)).map(([n]) => n).sort())
      .toEqual(['canary_high', 'canary_high_bypass', 'promote', 'promote_force', 'reset', 'rollback', 'unrelease']);
  });
});

describe('lifecycle boundaries', () => {
  it('a canary ratio exactly at the cap needs no bypass and no confirmation; the summary says no "above the cap"', () => {
    const t = transition(withCand, { type: 'SET_CANARY_RATIO', ratio: 0.1, bypass_safety_cap: false }, ctx());
    expect(t.ok).toBe(true);
    expect(t.ok && t.summary).not.toMatch(/above/);
    expect(needsConfirmation({ type: 'SET_CANARY_RATIO', ratio: 0.1, bypass_safety_cap: false }, 0.1)).toBe(false);
  });

  it('promotion without a gate verdict is refused; the frozen revision follows the latest registered one', () => {
    expect(transition(prodAndCand, commands.promote, { ...ctx(), gate: undefined })).toMatchObject({ ok: false, code: 'E_GATE', message: 'the promotion gate was not evaluated' });
    const t = transition(prodAndCand, commands.promote, { ...ctx(), latestRevision: (v: string) => (v === 'B' ? 6 : revs[v] ?? -1) });
    expect(t.ok && t.next.active).toEqual({ version: 'B', revision: 7 });
    const none = transition(prodAndCand, commands.promote, { ...ctx(), watch: { cycles: 5000, holdback_ratio: 0 } });
    expect(none.ok && none.next.watch).toBeNull();
  });

  it('the automatic rollback needs the watched revision in production, and pops the stack only when its top is the previous production', () => {
    const other: ControlState = { ...watching, active: { version: 'B', revision: 3 } };
    expect(transition(other, commands.auto_rollback, ctx())).toMatchObject({ ok: false, code: 'E_NO_WATCH' });
    const topElse: ControlState = { ...watching, rollback_stack: [{ version: 'C', revision: 0 }] };
    const t = transition(topElse, commands.auto_rollback, ctx());
    expect(t.ok && t.next.rollback_stack).toEqual([{ version: 'C', revision: 0 }]);
    expect(t.ok && t.next.active).toEqual({ version: 'A', revision: 0 });
  });

  // Survivors of `npm run mutate -- --mutate src/control/lifecycle.ts` (16:25 UTC), each pinned here.
  it('the automatic rollback needs the watched version too (same revision, other version), and refuses rather than throws with no production', () => {
    const sameRevOtherVersion: ControlState = { ...watching, active: { version: 'A', revision: 2 } };
    expect(transition(sameRevOtherVersion, commands.auto_rollback, ctx())).toMatchObject({ ok: false, code: 'E_NO_WATCH' });
    const noProduction: ControlState = { ...watching, active: null };
    expect(transition(noProduction, commands.auto_rollback, ctx())).toMatchObject({ ok: false, code: 'E_NO_WATCH' });
  });

  it('the automatic rollback pops the stack only for the previous production\'s exact revision; over the rules it leaves the stack', () => {
    const otherRevision: ControlState = { ...watching, rollback_stack: [{ version: 'A', revision: 1 }] };
    const t = transition(otherRevision, commands.auto_rollback, ctx());
    expect(t.ok && t.next.rollback_stack).toEqual([{ version: 'A', revision: 1 }]);
    expect(t.ok && t.next.active).toEqual({ version: 'A', revision: 0 });
    const overRules: ControlState = { ...watching, rollback_stack: [{ version: 'C', revision: 0 }], watch: { ...watching.watch!, previous: null } };
    const r = transition(overRules, commands.auto_rollback, ctx());
    expect(r.ok && r.next.active).toBeNull();
    expect(r.ok && r.next.rollback_stack).toEqual([{ version: 'C', revision: 0 }]);
  });

  it('a refused version is echoed cut to 80 characters', () => {
    const t = transition(S0, { type: 'REGISTER_MODEL', version: '-' + 'x'.repeat(999) }, ctx());
    expect(t).toMatchObject({ ok: false, code: 'E_BAD_VERSION' });
    expect(!t.ok && t.message).toContain(`"${('-' + 'x'.repeat(999)).slice(0, 80)}"`);
    expect(!t.ok && t.message.length).toBeLessThan(200);
  });

  it('releasing a lockdown set without a reason says so without parentheses', () => {
    const noReason: ControlState = { ...locked, lockdown: { ...locked.lockdown, reason: '' } };
    const t = transition(noReason, commands.unrelease, ctx());
    expect(t.ok && t.summary).toBe('release the lockdown set by Op-02 at t');
  });

  it('needsConfirmation is false (not merely falsy) for one-step commands', () => {
    for (const c of [commands.register_new, commands.candidate_B, commands.lockdown, commands.canary_low]) expect(needsConfirmation(c, 0.1)).toBe(false);
  });

  it('a containment lockdown names its failure in the reason, cut to 500 characters', () => {
    const t = transition(S0, { type: 'FAILURE', failure: { type: 'CORRUPTION_NAN', detail: 'x'.repeat(600), incident_id: null }, mode: null, lockdown: true, cancel_canary: false }, ctx());
    expect(t.ok && t.next.lockdown.reason).toBe(`CORRUPTION_NAN: ${'x'.repeat(600)}`.slice(0, 500));
    expect(t.ok && t.next.lockdown.operator_id).toBe('Op-01');
  });
});
