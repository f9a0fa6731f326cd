// Golden outputs of the pure control functions: every transition of the
// lifecycle table (its next state, effects, summary, or refusal and message)
// and the gate's verdict (criteria, reason, what is missing) over a set of
// evidence scenarios. The summaries, reasons and "missing" lines are what an
// operator reads to decide; a change to any of them must be deliberate (update
// the snapshot with `npx vitest run -u test/unit/control/golden.test.ts`).
import { describe, it, expect } from 'vitest';
import { transition, type Command } from '../../../src/control/lifecycle.js';
import { initialState, type ControlState } from '../../../src/store/control-state.js';
import { evaluateGate, evaluateWatch, DEFAULT_GATE, type GateFigures, type GateVerdict } from '../../../src/control/gate.js';
import { arm, baseFigures } from '../../helpers/arms.js';

const PASS: GateVerdict = { pass: true, evidence: 'on_policy', criteria: [], reason: 'passes', missing: null, alpha: 0.05 };
const FAIL: GateVerdict = { pass: false, evidence: null, criteria: [], reason: 'shadow_sample_size 10 < min_shadow_cycles 1000', missing: '990 more', alpha: 0.05 };
const revs: Record<string, number> = { A: 0, B: 1, C: 0 };
const ctx = (gate: GateVerdict, watch = { cycles: 5000, holdback_ratio: 0.1 }) => ({ now: '2026-11-26T10:00:00Z', operator: 'Op-01', canaryCap: 0.1, latestRevision: (v: string) => revs[v] ?? -1, gate, watch });

const S0 = initialState();
const prodAndCand: ControlState = { ...S0, version: 5, active: { version: 'A', revision: 0 }, candidate: { version: 'B', revision: 1 }, canary_ratio: 0.05, rollback_stack: [{ version: 'C', revision: 0 }] };
const states: Record<string, ControlState> = {
  empty: S0,
  candidate: { ...S0, version: 3, candidate: { version: 'B', revision: 1 } },
  production: prodAndCand,
  lockdown: { ...prodAndCand, lockdown: { active: true, since: 't', operator_id: 'Op-02', reason: 'x' } },
  safe_mode: { ...prodAndCand, failure: { mode: 'SAFE_MODE', since: 't', last_failure: { type: 'INFERENCE_TIMEOUT', at: 't', detail: 'd' }, incident_count: 1 } },
  watch: { ...S0, version: 7, active: { version: 'B', revision: 2 }, rollback_stack: [{ version: 'A', revision: 0 }],
    watch: { promoted: { version: 'B', revision: 2 }, previous: { version: 'A', revision: 0 }, started_at: 't', salt: 9, holdback_ratio: 0.1, cycles: 5000, forced: false } },
  watch_over_rules: { ...S0, version: 8, active: { version: 'B', revision: 2 },
    watch: { promoted: { version: 'B', revision: 2 }, previous: null, started_at: 't', salt: 9, holdback_ratio: 0.1, cycles: 5000, forced: true } },
};
const commands: Record<string, Command> = {
  register: { type: 'REGISTER_MODEL', version: 'D' }, register_dup: { type: 'REGISTER_MODEL', version: 'A' }, register_bad: { type: 'REGISTER_MODEL', version: '-x' },
  candidate_B: { type: 'SET_CANDIDATE_MODEL', version: 'B' }, candidate_C: { type: 'SET_CANDIDATE_MODEL', version: 'C' }, candidate_Z: { type: 'SET_CANDIDATE_MODEL', version: 'Z' },
  canary_0: { type: 'SET_CANARY_RATIO', ratio: 0, bypass_safety_cap: false }, canary_low: { type: 'SET_CANARY_RATIO', ratio: 0.05, bypass_safety_cap: false },
  canary_high: { type: 'SET_CANARY_RATIO', ratio: 0.5, bypass_safety_cap: false }, canary_bypass: { type: 'SET_CANARY_RATIO', ratio: 0.5, bypass_safety_cap: true },
  promote: { type: 'PROMOTE_CANDIDATE', force: false }, promote_force: { type: 'PROMOTE_CANDIDATE', force: true },
  rollback: { type: 'ROLLBACK_MODEL' }, end_watch: { type: 'END_WATCH' }, watch_ended: { type: 'WATCH_ENDED' },
  auto_rollback: { type: 'AUTO_ROLLBACK', detail: 'worse', incident_id: 'i-1' }, auto_rollback_no_incident: { type: 'AUTO_ROLLBACK', detail: 'worse', incident_id: null },
  lockdown: { type: 'EMERGENCY_LOCKDOWN', reason: 'drill' }, lockdown_plain: { type: 'EMERGENCY_LOCKDOWN', reason: null },
  unrelease: { type: 'UNRELEASE_LOCKDOWN' }, reset: { type: 'RESET_FAILURE_STATUS' }, safe_expired: { type: 'SAFE_MODE_EXPIRED' },
  failure_safe: { type: 'FAILURE', failure: { type: 'SURVIVAL_CRASH', detail: 'low', incident_id: 'i-2' }, mode: 'SAFE_MODE', lockdown: false, cancel_canary: false },
  failure_lock: { type: 'FAILURE', failure: { type: 'CORRUPTION_NAN', detail: 'nan', incident_id: null }, mode: null, lockdown: true, cancel_canary: false },
  failure_canary: { type: 'FAILURE', failure: { type: 'CANARY_ABORT', detail: 'worse', incident_id: 'i-3' }, mode: null, lockdown: false, cancel_canary: true },
  failure_none: { type: 'FAILURE', failure: { type: 'STALE_STATE', detail: 'old', incident_id: null }, mode: null, lockdown: false, cancel_canary: false },
  failure_pause: { type: 'FAILURE', failure: { type: 'MALFORMED_INPUT', detail: 'x', incident_id: 'i-4' }, mode: 'SHADOW_LEARNING_PAUSE', lockdown: false, cancel_canary: false },
};

describe('golden: the lifecycle table', () => {
  it('every command in every state, with the gate passing, failing and no watch configured', () => {
    const out: Record<string, unknown> = {};
    for (const [sn, s] of Object.entries(states)) {
      for (const [cn, c] of Object.entries(commands)) {
        for (const [gn, g] of [['pass', PASS], ['fail', FAIL]] as const) {
          if (gn === 'fail' && c.type !== 'PROMOTE_CANDIDATE') continue;
          for (const w of c.type === 'PROMOTE_CANDIDATE' ? [true, false] : [true]) {
            const t = transition(s, c, ctx(g, w ? { cycles: 5000, holdback_ratio: 0.1 } : { cycles: 0, holdback_ratio: 0.1 }));
            out[`${sn} ${cn}${c.type === 'PROMOTE_CANDIDATE' ? ` gate=${gn} watch=${w}` : ''}`] = t.ok
              ? { summary: t.summary, effects: t.effects, next: t.next === s ? 'unchanged' : t.next }
              : { code: t.code, message: t.message, details: t.details ?? null };
          }
        }
      }
    }
    expect(Object.keys(out).length).toBeGreaterThan(200);
    expect(out).toMatchSnapshot();
  });
});

const base = baseFigures;

describe('golden: the gate\'s and the watch\'s verdicts', () => {
  it('over a set of evidence scenarios', () => {
    const scenarios: Record<string, GateFigures> = {
      passes: base(),
      no_shadow: base({ shadow_sample_size: 10 }),
      non_finite: base({ candidate_non_finite: 1 }),
      proposes_violations: base({ candidate_violation_rate: 0.2 }),
      proposed_null: base({ candidate_violation_rate: null, production_violation_rate: null }),
      dies: base({ canary: arm(3000, 0.4, 0, 0.5) }),
      violates: base({ canary: arm(3000, 0.02, 0.3, 0.5) }),
      poorer: base({ canary: arm(3000, 0.02, 0, -3) }),
      short_canary: base({ canary: arm(60, 0.02, 0, 0.5) }),
      just_started: base({ canary: arm(5, 0.02, 0, 0.5) }),
      no_canary: base({ canary_ratio: 0, canary: arm(0, 0, 0, 0) }),
      canary_stopped_after_evidence: base({ canary_ratio: 0, canary: arm(200, 0.05, 0.01, 0.2) }),
      looks_worse: base({ canary: arm(300, 0.15, 0.06, -0.4) }),
      off_policy_passes: base({ canary_ratio: 0, canary: arm(0, 0, 0, 0), off_policy: { samples: 50_000, ess: 5000, estimate: 0.2, lower: 0.19 } }),
      off_policy_low_bound: base({ canary_ratio: 0, canary: arm(0, 0, 0, 0), off_policy: { samples: 50_000, ess: 5000, estimate: 0.2, lower: -3 } }),
      off_policy_none: base({ canary_ratio: 0, canary: arm(0, 0, 0, 0), off_policy: { samples: 0, ess: 0, estimate: null, lower: null } }),
      incumbent_empty: base({ incumbent: arm(0, 0, 0, 0) }),
    };
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(scenarios)) {
      out[k] = evaluateGate(f, DEFAULT_GATE);
      out[`${k} (off-policy may not pass)`] = evaluateGate(f, { ...DEFAULT_GATE, off_policy_may_pass: false }).reason;
    }
    out.watch_worse = evaluateWatch(arm(3000, 0.37, 0, -1), arm(400, 0.03, 0, 0.3), DEFAULT_GATE);
    out.watch_violates = evaluateWatch(arm(3000, 0.02, 0.4, 0.2), arm(400, 0.02, 0, 0.2), DEFAULT_GATE);
    out.watch_same = evaluateWatch(arm(3000, 0.05, 0.01, 0.2), arm(400, 0.05, 0.01, 0.2), DEFAULT_GATE);
    out.watch_empty = evaluateWatch(arm(0, 0, 0, 0), arm(0, 0, 0, 0), DEFAULT_GATE);
    expect(out).toMatchSnapshot();
  });
});
