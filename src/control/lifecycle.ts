// The model lifecycle and the control state as a pure transition function:
// (state, command, context) → (next state, effects) or a refusal. Nothing here
// does I/O; the caller (commands.ts) executes the effects in order — write
// model files, load weights into the engine, persist the state — and audits.
import type { ErrorCode } from '../errors.js';
import type { ControlState, ModelRef } from '../store/control-state.js';
import type { FailureMode } from '../engine/types.js';
import { VERSION_ID } from '../store/registry.js';
import type { GateVerdict } from './gate.js';

export type Command =
  | { type: 'REGISTER_MODEL'; version: string }
  | { type: 'SET_CANDIDATE_MODEL'; version: string }
  | { type: 'SET_CANARY_RATIO'; ratio: number; bypass_safety_cap: boolean }
  | { type: 'PROMOTE_CANDIDATE'; force: boolean }
  | { type: 'ROLLBACK_MODEL' }
  | { type: 'EMERGENCY_LOCKDOWN'; reason: string | null }
  | { type: 'UNRELEASE_LOCKDOWN' }
  | { type: 'RESET_FAILURE_STATUS' }
  /** Internal: the failure manager changes the failure mode. */
  | { type: 'FAILURE_MODE'; mode: Exclude<FailureMode, 'LOCKDOWN'>; failure: { type: string; detail: string } | null };

export type Effect =
  | { kind: 'write_registered'; version: string }
  | { kind: 'freeze_candidate'; into: ModelRef }
  | { kind: 'load_production'; ref: ModelRef | null }
  | { kind: 'load_candidate'; ref: ModelRef | null }
  | { kind: 'set_canary'; ratio: number }
  | { kind: 'set_lockdown'; active: boolean }
  | { kind: 'set_mode'; mode: Exclude<FailureMode, 'LOCKDOWN'> }
  | { kind: 'persist' };

export interface LifecycleContext {
  now: string;
  operator: string;
  /** Registry view: latest revision of a version, -1 when it is not registered. */
  latestRevision: (version: string) => number;
  canaryCap: number;
  /** The gate's verdict (PROMOTE_CANDIDATE only). */
  gate?: GateVerdict;
}

export type Transition =
  | { ok: true; next: ControlState; effects: Effect[]; summary: string }
  | { ok: false; code: ErrorCode; message: string; details?: Record<string, unknown> };

/** Commands accepted during a lockdown (besides read-only queries, which never reach here). */
export const LOCKDOWN_ALLOWED = new Set(['EMERGENCY_LOCKDOWN', 'UNRELEASE_LOCKDOWN', 'RESET_FAILURE_STATUS', 'FAILURE_MODE']);

const refuse = (code: ErrorCode, message: string, details?: Record<string, unknown>): Transition => ({ ok: false, code, message, ...(details ? { details } : {}) });
const refName = (r: ModelRef | null) => (r ? `${r.version} (revision ${r.revision})` : 'none');

function changed(s: ControlState, patch: Partial<ControlState>, effects: Effect[], summary: string): Transition {
  return { ok: true, next: { ...s, ...patch, version: s.version + 1 }, effects: [...effects, { kind: 'persist' }], summary };
}

export function transition(s: ControlState, cmd: Command, ctx: LifecycleContext): Transition {
  if (s.lockdown.active && !LOCKDOWN_ALLOWED.has(cmd.type)) {
    return refuse('E_LOCKDOWN', `emergency lockdown is active (since ${s.lockdown.since}); ${cmd.type} is blocked until UNRELEASE_LOCKDOWN`);
  }
  switch (cmd.type) {
    case 'REGISTER_MODEL': {
      if (!VERSION_ID.test(cmd.version)) return refuse('E_BAD_VERSION', `version "${cmd.version.slice(0, 80)}" must be 1-64 of [A-Za-z0-9._-] starting with a letter or digit`);
      if (ctx.latestRevision(cmd.version) >= 0) return refuse('E_DUPLICATE_VERSION', `model ${cmd.version} is already registered; versions are immutable`);
      return { ok: true, next: s, effects: [{ kind: 'write_registered', version: cmd.version }], summary: `register ${cmd.version}` };
    }
    case 'SET_CANDIDATE_MODEL': {
      const rev = ctx.latestRevision(cmd.version);
      if (rev < 0) return refuse('E_UNKNOWN_MODEL', `model ${cmd.version} is not registered`);
      if (s.active?.version === cmd.version) return refuse('E_ALREADY_PRODUCTION', `${cmd.version} is in production; register a new version to train further`);
      const ref = { version: cmd.version, revision: rev };
      // A new candidate starts with no canary traffic: a ratio granted to the
      // previous candidate is not a grant to this one.
      return changed(s, { candidate: ref, canary_ratio: 0 }, [{ kind: 'load_candidate', ref }, { kind: 'set_canary', ratio: 0 }],
        `set ${refName(ref)} as candidate (shadow counters start at 0, canary ratio 0)`);
    }
    case 'SET_CANARY_RATIO': {
      if (cmd.ratio > 0 && !s.candidate) return refuse('E_NO_CANDIDATE', 'no candidate is set: there is nothing to route canary traffic to');
      if (cmd.ratio > ctx.canaryCap && !cmd.bypass_safety_cap) {
        return refuse('E_CANARY_CAP', `ratio ${cmd.ratio} is above the safety cap ${ctx.canaryCap}; send bypass_safety_cap: true (and confirm) to exceed it`);
      }
      return changed(s, { canary_ratio: cmd.ratio }, [{ kind: 'set_canary', ratio: cmd.ratio }],
        `route ${(cmd.ratio * 100).toFixed(1)}% of cycles to ${refName(s.candidate)}${cmd.ratio > ctx.canaryCap ? ` (above the ${ctx.canaryCap} cap)` : ''}`);
    }
    case 'PROMOTE_CANDIDATE': {
      if (!s.candidate) return refuse('E_NO_CANDIDATE', 'no candidate is set');
      if (!cmd.force) {
        if (!ctx.gate) return refuse('E_GATE', 'the promotion gate was not evaluated');
        if (!ctx.gate.pass) return refuse('E_GATE', `promotion gate: ${ctx.gate.failures.join('; ')}`, { gate: ctx.gate.figures, failures: ctx.gate.failures });
      }
      const into = { version: s.candidate.version, revision: Math.max(ctx.latestRevision(s.candidate.version), s.candidate.revision) + 1 };
      const stack = s.active ? [...s.rollback_stack, s.active] : s.rollback_stack;
      return changed(s, { active: into, candidate: null, canary_ratio: 0, rollback_stack: stack },
        [{ kind: 'freeze_candidate', into }, { kind: 'load_production', ref: into }, { kind: 'load_candidate', ref: null }, { kind: 'set_canary', ratio: 0 }],
        `promote ${s.candidate.version} (its current weights, as revision ${into.revision}) over ${refName(s.active)}${cmd.force ? ' — FORCED, gate skipped' : ''}`);
    }
    case 'ROLLBACK_MODEL': {
      if (s.rollback_stack.length === 0) return refuse('E_NO_ROLLBACK_TARGET', 'the rollback stack is empty');
      const target = s.rollback_stack[s.rollback_stack.length - 1];
      // A stack, not a toggle: the version rolled back from is not pushed, so
      // two rollbacks go two versions back.
      return changed(s, { active: target, rollback_stack: s.rollback_stack.slice(0, -1) }, [{ kind: 'load_production', ref: target }],
        `roll production back from ${refName(s.active)} to ${refName(target)}`);
    }
    case 'EMERGENCY_LOCKDOWN': {
      if (s.lockdown.active) return { ok: true, next: s, effects: [], summary: `lockdown already active since ${s.lockdown.since}` };
      return changed(s, { lockdown: { active: true, since: ctx.now, operator_id: ctx.operator, reason: cmd.reason } }, [{ kind: 'set_lockdown', active: true }],
        `EMERGENCY LOCKDOWN: STOP on every cycle, learning frozen, management blocked${cmd.reason ? ` (${cmd.reason})` : ''}`);
    }
    case 'UNRELEASE_LOCKDOWN': {
      if (!s.lockdown.active) return refuse('E_NOT_LOCKED', 'no lockdown is active');
      return changed(s, { lockdown: { active: false, since: null, operator_id: null, reason: null } }, [{ kind: 'set_lockdown', active: false }],
        `release the lockdown set by ${s.lockdown.operator_id} at ${s.lockdown.since}${s.lockdown.reason ? ` (${s.lockdown.reason})` : ''}`);
    }
    case 'RESET_FAILURE_STATUS': {
      if (s.failure.mode === 'NORMAL') {
        return refuse('E_ALREADY_NORMAL', `the failure mode is already NORMAL${s.lockdown.active ? ' (the lockdown latch is separate: UNRELEASE_LOCKDOWN releases it)' : ''}`);
      }
      return changed(s, { failure: { ...s.failure, mode: 'NORMAL', since: ctx.now } }, [{ kind: 'set_mode', mode: 'NORMAL' }],
        `reset the failure mode from ${s.failure.mode} to NORMAL`);
    }
    case 'FAILURE_MODE': {
      const failure = cmd.failure ? { type: cmd.failure.type, at: ctx.now, detail: cmd.failure.detail } : s.failure.last_failure;
      const modeChanged = s.failure.mode !== cmd.mode;
      return changed(s, {
        failure: { mode: cmd.mode, since: modeChanged ? ctx.now : s.failure.since, last_failure: failure, incident_count: s.failure.incident_count + (cmd.failure ? 1 : 0) },
      }, modeChanged ? [{ kind: 'set_mode', mode: cmd.mode }] : [], `failure mode ${s.failure.mode} → ${cmd.mode}${cmd.failure ? ` (${cmd.failure.type})` : ''}`);
    }
  }
}

/** Commands that need the two-step confirmation, for these parameters. */
export function needsConfirmation(cmd: Command, canaryCap: number): boolean {
  switch (cmd.type) {
    case 'PROMOTE_CANDIDATE': case 'ROLLBACK_MODEL': case 'UNRELEASE_LOCKDOWN': case 'RESET_FAILURE_STATUS': return true;
    case 'SET_CANARY_RATIO': return cmd.ratio > canaryCap;
    default: return false;
  }
}
