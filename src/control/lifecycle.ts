// The model lifecycle and the control state as a pure transition function:
// (state, command, context) → (next state, effects) or a refusal. Nothing here
// does I/O; the control plane (commands.ts) runs the effects — write model
// files, load weights into the engine, persist the state — and audits.
//
// Every change of the control state goes through here: operators' commands,
// and what the system does by itself (containment of a failure, the end of a
// timeout's SAFE_MODE, the canary's abort, the automatic rollback of the
// post-promotion watch), which are commands of the operator "system". The
// engine never holds a copy of its own: it reads a view derived from the
// state this function returns (src/control/view.ts).
import type { ErrorCode } from '../errors.js';
import type { ControlState, ModelRef, WatchState } from '../store/control-state.js';
import type { FailureMode } from '../engine/types.js';
import { VERSION_ID } from '../store/registry.js';
import { mix32 } from '../kernel/reference.js';
import type { GateVerdict } from './gate.js';

export type Command =
  | { type: 'REGISTER_MODEL'; version: string }
  | { type: 'SET_CANDIDATE_MODEL'; version: string }
  | { type: 'SET_CANARY_RATIO'; ratio: number; bypass_safety_cap: boolean }
  | { type: 'PROMOTE_CANDIDATE'; force: boolean }
  | { type: 'ROLLBACK_MODEL' }
  | { type: 'END_WATCH' }
  | { type: 'EMERGENCY_LOCKDOWN'; reason: string | null }
  | { type: 'UNRELEASE_LOCKDOWN' }
  | { type: 'RESET_FAILURE_STATUS' }
  // The system's own commands (operator "system"; never parsed from the wire).
  /** Containment of a failure: its mode (if it ranks higher), the lockdown latch, the canary's abort, and its incident. */
  | { type: 'FAILURE'; failure: { type: string; detail: string; incident_id: string | null }; mode: FailureMode | null; lockdown: boolean; cancel_canary: boolean }
  /** The SAFE_MODE of an inference timeout has lasted its cycles. */
  | { type: 'SAFE_MODE_EXPIRED' }
  /** The post-promotion watch found the new production credibly worse than the holdback arm. */
  | { type: 'AUTO_ROLLBACK'; detail: string; incident_id: string | null }
  /** The post-promotion watch has lasted its cycles. */
  | { type: 'WATCH_ENDED' };

export type Role = 'production' | 'candidate' | 'holdback';

export type Effect =
  | { kind: 'write_registered'; version: string }
  | { kind: 'freeze_candidate'; into: ModelRef }
  | { kind: 'load'; role: Role; ref: ModelRef | null }
  | { kind: 'persist' };

export interface WatchConfig {
  /** Cycles of the watch after a promotion (0: no watch). */
  cycles: number;
  /** Share of agents kept on the previous production during the watch. */
  holdback_ratio: number;
}

export interface LifecycleContext {
  now: string;
  operator: string;
  /** Registry view: latest revision of a version, -1 when it is not registered. */
  latestRevision: (version: string) => number;
  canaryCap: number;
  /** The gate's verdict (PROMOTE_CANDIDATE only). */
  gate?: GateVerdict;
  watch?: WatchConfig;
}

export type Transition =
  | { ok: true; next: ControlState; effects: Effect[]; summary: string }
  | { ok: false; code: ErrorCode; message: string; details?: Record<string, unknown> };

/** Commands accepted during a lockdown (besides read-only queries, which never reach here). */
export const LOCKDOWN_ALLOWED = new Set(['EMERGENCY_LOCKDOWN', 'UNRELEASE_LOCKDOWN', 'RESET_FAILURE_STATUS', 'FAILURE', 'SAFE_MODE_EXPIRED', 'WATCH_ENDED', 'END_WATCH']);

/** Severity order of the failure modes: a failure never lowers the mode. */
export const MODE_RANK: Record<FailureMode, number> = { NORMAL: 0, SHADOW_LEARNING_PAUSE: 1, SAFE_MODE: 2, READ_ONLY_DISK: 3, TEMPORAL_LOCK: 4 };

const refuse = (code: ErrorCode, message: string, details?: Record<string, unknown>): Transition => ({ ok: false, code, message, ...(details ? { details } : {}) });
const refName = (r: ModelRef | null) => (r ? `${r.version} (revision ${r.revision})` : 'none');

function changed(s: ControlState, patch: Partial<ControlState>, effects: Effect[], summary: string): Transition {
  return { ok: true, next: { ...s, ...patch, version: s.version + 1 }, effects: [...effects, { kind: 'persist' }], summary };
}

/** A salt derived from what is being salted and the state version: pure, and different for every candidate or watch. */
export function saltFor(version: string, stateVersion: number, stream: number): number {
  let h = 2166136261;
  for (let i = 0; i < version.length; i++) h = Math.imul(h ^ version.charCodeAt(i), 16777619) >>> 0;
  return mix32(h, stateVersion >>> 0, stream);
}

/** Production returns to `target`; the version rolled back from is not pushed (a stack, not a toggle). */
function rollback(s: ControlState, target: ModelRef | null, stack: ModelRef[], patch: Partial<ControlState>, summary: string): Transition {
  const effects: Effect[] = [{ kind: 'load', role: 'production', ref: target }];
  if (s.watch) effects.push({ kind: 'load', role: 'holdback', ref: null });
  return changed(s, { active: target, rollback_stack: stack, watch: null, ...patch }, effects, summary);
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
      if (s.watch) {
        return refuse('E_WATCH_ACTIVE', `the post-promotion watch of ${refName(s.watch.promoted)} is running (${s.watch.cycles} cycles from ${s.watch.started_at}); END_WATCH ends it early`);
      }
      const ref = { version: cmd.version, revision: rev };
      // A new candidate starts with no canary traffic: a ratio granted to the
      // previous candidate is not a grant to this one. A new salt draws new arms.
      return changed(s, { candidate: ref, canary_ratio: 0, canary_salt: saltFor(cmd.version, s.version, 17) }, [{ kind: 'load', role: 'candidate', ref }],
        `set ${refName(ref)} as candidate (shadow counters start at 0, canary ratio 0)`);
    }
    case 'SET_CANARY_RATIO': {
      if (cmd.ratio > 0 && !s.candidate) return refuse('E_NO_CANDIDATE', 'no candidate is set: there is nothing to route canary traffic to');
      if (cmd.ratio > ctx.canaryCap && !cmd.bypass_safety_cap) {
        return refuse('E_CANARY_CAP', `ratio ${cmd.ratio} is above the safety cap ${ctx.canaryCap}; send bypass_safety_cap: true (and confirm) to exceed it`);
      }
      return changed(s, { canary_ratio: cmd.ratio }, [],
        `route the agents of ${(cmd.ratio * 100).toFixed(1)}% of the canary draw to ${refName(s.candidate)}${cmd.ratio > ctx.canaryCap ? ` (above the ${ctx.canaryCap} cap)` : ''}`);
    }
    case 'PROMOTE_CANDIDATE': {
      if (!s.candidate) return refuse('E_NO_CANDIDATE', 'no candidate is set');
      if (!cmd.force) {
        if (!ctx.gate) return refuse('E_GATE', 'the promotion gate was not evaluated');
        if (!ctx.gate.pass) return refuse('E_GATE', `promotion gate: ${ctx.gate.reason}`, { gate: ctx.gate });
      }
      const into = { version: s.candidate.version, revision: Math.max(ctx.latestRevision(s.candidate.version), s.candidate.revision) + 1 };
      const stack = s.active ? [...s.rollback_stack, s.active] : s.rollback_stack;
      const w = ctx.watch;
      const watch: WatchState | null = w && w.cycles > 0 && w.holdback_ratio > 0
        ? { promoted: into, previous: s.active, started_at: ctx.now, salt: saltFor(into.version, s.version, 19), holdback_ratio: w.holdback_ratio, cycles: w.cycles, forced: cmd.force }
        : null;
      const effects: Effect[] = [{ kind: 'freeze_candidate', into }, { kind: 'load', role: 'production', ref: into }, { kind: 'load', role: 'candidate', ref: null }];
      if (watch) effects.push({ kind: 'load', role: 'holdback', ref: s.active });
      return changed(s, { active: into, candidate: null, canary_ratio: 0, rollback_stack: stack, watch }, effects,
        `promote ${s.candidate.version} (its current weights, as revision ${into.revision}) over ${refName(s.active)}${cmd.force ? ' — FORCED, gate skipped' : ` on ${ctx.gate?.evidence ?? 'no'} evidence`}` +
        (watch ? `; watch for ${watch.cycles} cycles with ${(watch.holdback_ratio * 100).toFixed(0)}% of agents held back on ${s.active ? refName(s.active) : 'the rules policy'}` : ''));
    }
    case 'ROLLBACK_MODEL': {
      if (s.rollback_stack.length === 0) return refuse('E_NO_ROLLBACK_TARGET', 'the rollback stack is empty');
      const target = s.rollback_stack[s.rollback_stack.length - 1];
      return rollback(s, target, s.rollback_stack.slice(0, -1), {}, `roll production back from ${refName(s.active)} to ${refName(target)}`);
    }
    case 'AUTO_ROLLBACK': {
      if (!s.watch || s.active?.version !== s.watch.promoted.version || s.active.revision !== s.watch.promoted.revision) {
        return refuse('E_NO_WATCH', 'no post-promotion watch is running for the active model');
      }
      const prev = s.watch.previous;
      const top = s.rollback_stack[s.rollback_stack.length - 1];
      const stack = prev && top && top.version === prev.version && top.revision === prev.revision ? s.rollback_stack.slice(0, -1) : s.rollback_stack;
      const failure = { type: 'AUTO_ROLLBACK', at: ctx.now, detail: cmd.detail, incident_id: cmd.incident_id };
      return rollback(s, prev, stack, { failure: { ...s.failure, last_failure: failure, incident_count: s.failure.incident_count + (cmd.incident_id ? 1 : 0) } },
        `AUTOMATIC ROLLBACK from ${refName(s.active)} to ${prev ? refName(prev) : 'the rules policy'}: ${cmd.detail}`);
    }
    case 'END_WATCH':
    case 'WATCH_ENDED': {
      if (!s.watch) return refuse('E_NO_WATCH', 'no post-promotion watch is running');
      return changed(s, { watch: null }, [{ kind: 'load', role: 'holdback', ref: null }],
        `${cmd.type === 'END_WATCH' ? 'end' : 'complete'} the watch of ${refName(s.watch.promoted)}: every agent is served by it`);
    }
    case 'EMERGENCY_LOCKDOWN': {
      if (s.lockdown.active) return { ok: true, next: s, effects: [], summary: `lockdown already active since ${s.lockdown.since}` };
      return changed(s, { lockdown: { active: true, since: ctx.now, operator_id: ctx.operator, reason: cmd.reason } }, [],
        `EMERGENCY LOCKDOWN: STOP on every cycle, learning frozen, management blocked${cmd.reason ? ` (${cmd.reason})` : ''}`);
    }
    case 'UNRELEASE_LOCKDOWN': {
      if (!s.lockdown.active) return refuse('E_NOT_LOCKED', 'no lockdown is active');
      return changed(s, { lockdown: { active: false, since: null, operator_id: null, reason: null } }, [],
        `release the lockdown set by ${s.lockdown.operator_id} at ${s.lockdown.since}${s.lockdown.reason ? ` (${s.lockdown.reason})` : ''}`);
    }
    case 'RESET_FAILURE_STATUS': {
      if (s.failure.mode === 'NORMAL') {
        return refuse('E_ALREADY_NORMAL', `the failure mode is already NORMAL${s.lockdown.active ? ' (the lockdown latch is separate: UNRELEASE_LOCKDOWN releases it)' : ''}`);
      }
      return changed(s, { failure: { ...s.failure, mode: 'NORMAL', since: ctx.now } }, [], `reset the failure mode from ${s.failure.mode} to NORMAL`);
    }
    case 'FAILURE': {
      const f = cmd.failure;
      const mode = cmd.mode && MODE_RANK[cmd.mode] > MODE_RANK[s.failure.mode] ? cmd.mode : s.failure.mode;
      const modeChanged = mode !== s.failure.mode;
      const latch = cmd.lockdown && !s.lockdown.active;
      const cancel = cmd.cancel_canary && s.canary_ratio > 0;
      const patch: Partial<ControlState> = {
        failure: {
          mode, since: modeChanged ? ctx.now : s.failure.since,
          last_failure: { type: f.type, at: ctx.now, detail: f.detail, incident_id: f.incident_id },
          incident_count: s.failure.incident_count + (f.incident_id ? 1 : 0),
        },
      };
      if (latch) patch.lockdown = { active: true, since: ctx.now, operator_id: ctx.operator, reason: `${f.type}: ${f.detail}`.slice(0, 500) };
      if (cancel) patch.canary_ratio = 0;
      return changed(s, patch, [], `${f.type}: ${[latch ? 'LOCKDOWN latched' : '', modeChanged ? `mode ${s.failure.mode} → ${mode}` : '', cancel ? 'canary ratio → 0' : '', f.incident_id ? `incident ${f.incident_id}` : ''].filter(Boolean).join(', ') || 'recorded'}`);
    }
    case 'SAFE_MODE_EXPIRED': {
      if (s.failure.mode !== 'SAFE_MODE' || s.failure.last_failure?.type !== 'INFERENCE_TIMEOUT') return refuse('E_ALREADY_NORMAL', 'not in the SAFE_MODE of an inference timeout');
      return changed(s, { failure: { ...s.failure, mode: 'NORMAL', since: ctx.now } }, [], 'SAFE_MODE after the inference timeout has lasted its cycles: mode NORMAL');
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
