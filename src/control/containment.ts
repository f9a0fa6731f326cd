// Containment: the system as an automatic operator. Every failure type of the
// taxonomy maps to its containment, carried out as a command of the operator
// "system" through the same pure transition function and effect runner as an
// operator's (ControlPlane.system), and an incident report for each
// (rate-limited per type).
//
//   CORRUPTION_NAN, AUDIT_TAMPER      lockdown (latched) + incident
//   INFERENCE_TIMEOUT                 SAFE_MODE for `safe_mode_cycles` cycles, then back to NORMAL (SAFE_MODE_EXPIRED)
//   WORKER_CRASH, STALE_STATE, FLOOD  incident (the engine or transport already answered the cycle)
//   TIME_INTEGRITY_VIOLATION          TEMPORAL_LOCK + incident
//   MALFORMED_INPUT, HOSTILE_PAYLOAD,
//   REWARD_INVARIANT                  quarantine (engine); above `quarantine_rate` of the window: SHADOW_LEARNING_PAUSE + incident
//   SURVIVAL_CRASH, CONTRACT_BREACH   SAFE_MODE + incident
//   CANARY_ABORT                      canary ratio → 0 + incident (the canary arm is significantly worse)
//   AUTO_ROLLBACK                     the post-promotion watch rolls production back + incident
//   DISK_FULL (write errors)          READ_ONLY_DISK: decisions go on, mutations are refused (kept in memory)
//   MODEL_LOAD_FAILURE                SAFE_MODE + incident: a model the committed state names could not be
//                                     loaded (its role is left empty); e.g. an automatic rollback to a damaged file
//
// Consistency: the transition runs synchronously inside the engine's
// failure callback, so the cycle that caused it is answered in the new mode,
// and the mode, last_failure (with the incident's id) and incident_count
// change together. The incident file follows a few milliseconds later;
// until it is on disk, HEARTBEAT's failure_status says `incident_pending`.
import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine/cycle.js';
import type { FailureEvent, FailureType, FailureMode } from '../engine/types.js';
import type { ControlPlane } from './commands.js';
import type { AuditLog } from '../audit/log.js';
import { writeIncident, type IncidentReport } from '../monitor/incidents.js';
import { evaluateAlerts, canaryWorse } from '../monitor/alerts.js';
import type { FailureConfig } from './config.js';
import { MODE_RANK } from './lifecycle.js';
import { watchVerdict } from './evidence.js';
import type { GateConfig } from './gate.js';

interface Rule { mode?: FailureMode; lockdown?: boolean; severity: IncidentReport['severity'] }
export const CONTAIN: Record<FailureType, Rule> = {
  CORRUPTION_NAN: { lockdown: true, severity: 'CRITICAL' },
  AUDIT_TAMPER: { lockdown: true, severity: 'CRITICAL' },
  INFERENCE_TIMEOUT: { mode: 'SAFE_MODE', severity: 'HIGH' },
  WORKER_CRASH: { severity: 'HIGH' },
  STALE_STATE: { severity: 'MEDIUM' },
  TIME_INTEGRITY_VIOLATION: { mode: 'TEMPORAL_LOCK', severity: 'HIGH' },
  MALFORMED_INPUT: { mode: 'SHADOW_LEARNING_PAUSE', severity: 'MEDIUM' },
  HOSTILE_PAYLOAD: { mode: 'SHADOW_LEARNING_PAUSE', severity: 'MEDIUM' },
  REWARD_INVARIANT: { mode: 'SHADOW_LEARNING_PAUSE', severity: 'MEDIUM' },
  FLOOD: { severity: 'MEDIUM' },
  SURVIVAL_CRASH: { mode: 'SAFE_MODE', severity: 'CRITICAL' },
  CONTRACT_BREACH: { mode: 'SAFE_MODE', severity: 'CRITICAL' },
  DISK_FULL: { mode: 'READ_ONLY_DISK', severity: 'CRITICAL' },
  CANARY_ABORT: { severity: 'HIGH' },
  AUTO_ROLLBACK: { severity: 'HIGH' },
  MODEL_LOAD_FAILURE: { mode: 'SAFE_MODE', severity: 'CRITICAL' },
};
const QUARANTINE_TYPES = new Set<FailureType>(['MALFORMED_INPUT', 'HOSTILE_PAYLOAD', 'REWARD_INVARIANT']);

/** An incident already recorded in the control state, waiting for the next cycle's capture (its snapshot). */
interface AwaitingCapture { id: string; type: FailureType; detail: string; at: number; details: Record<string, unknown> }

export class Containment {
  readonly written: IncidentReport[] = [];
  /** Incidents not written (disk errors), for HEARTBEAT. */
  writeErrors = 0;
  /** The last incident write's error (HEARTBEAT's INCIDENT_WRITE alert). */
  lastWriteError: string | null = null;
  /** Incidents recorded in the state whose file is not on disk yet. */
  pending = 0;
  private readonly last = new Map<FailureType, number>();
  private readonly suppressed = new Map<FailureType, number>();
  private readonly quarantineAt: number[];
  private qi = 0;
  private safeUntil = -1;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private awaiting: AwaitingCapture | null = null;

  constructor(private readonly d: {
    engine: Engine; control: () => ControlPlane; audit: AuditLog; failuresDir: string; config: FailureConfig; gate: GateConfig; clock: () => number;
  }) {
    const k = Math.max(1, Math.ceil(d.config.quarantine_rate * d.engine.config.shadow_window));
    this.quarantineAt = new Array<number>(k).fill(-Infinity);
  }

  start(everyMs = 200): void {
    this.timer = setInterval(() => this.tick(), everyMs);
    this.timer.unref();
  }

  /** Whether the engine should copy the weights for this failure (an incident will be written). */
  wantsCapture = (type: FailureType): boolean => {
    if (this.awaiting && this.awaiting.type === type) return true;
    if (QUARANTINE_TYPES.has(type)) return this.quarantineRateExceeded(false);
    const c = this.changes(type);
    return this.due(type) || c.raisesMode || c.latches;
  };

  /** Whether a failure of this type would raise the mode or latch the lockdown now: such a failure always gets its incident. */
  private changes(type: FailureType): { raisesMode: boolean; latches: boolean } {
    const rule = CONTAIN[type], s = this.d.control().state;
    return { raisesMode: rule.mode !== undefined && MODE_RANK[rule.mode] > MODE_RANK[s.failure.mode], latches: rule.lockdown === true && !s.lockdown.active };
  }

  private due(type: FailureType): boolean {
    return this.d.clock() - (this.last.get(type) ?? -Infinity) >= this.d.config.incident_min_interval_s * 1000;
  }

  /**
   * Whether the last k quarantined cycles (k = rate × window) all fall within
   * the last `window` cycles, i.e. the quarantine rate is over the limit.
   * `record` adds the current event first; without it, the question is asked
   * as if it were added (the engine asks before reporting).
   */
  private quarantineRateExceeded(record: boolean): boolean {
    const ring = this.quarantineAt, k = ring.length, now = this.d.engine.stats.cycles;
    if (record) { ring[this.qi % k] = now; this.qi++; }
    const oldest = k === 1 ? (record ? now : -Infinity) : ring[(record ? this.qi : this.qi + 1) % k];
    return now - oldest <= this.d.engine.config.shadow_window;
  }

  /** Called synchronously by the engine (and by the sidecar for tampering, floods and disk errors). */
  handle = (e: FailureEvent): void => {
    const aw = this.awaiting;
    if (aw && e.type === aw.type && e.capture) {
      // The snapshot of a containment already carried out (canary abort, automatic rollback).
      this.awaiting = null;
      this.pending--; // counted since containNow; write() counts it again
      this.write(aw.id, aw.type, aw.at, { ...aw.details, snapshot_cycle_id: e.cycle_id ?? null }, e);
      return;
    }
    if (QUARANTINE_TYPES.has(e.type) && !this.quarantineRateExceeded(true)) return; // quarantined, under the rate
    const rule = CONTAIN[e.type];
    const s = this.d.control().state;
    const now = this.d.clock();
    const due = this.due(e.type);
    const { raisesMode, latches } = this.changes(e.type);
    // The timeout's SAFE_MODE ends by itself after its cycles; a SAFE_MODE that
    // another failure set (or joined) waits for an operator's reset.
    if (e.type === 'INFERENCE_TIMEOUT' && (raisesMode || (s.failure.mode === 'SAFE_MODE' && this.safeUntil >= 0))) {
      this.safeUntil = this.d.engine.stats.cycles + this.d.config.safe_mode_cycles;
    } else if (rule.mode === 'SAFE_MODE' && e.type !== 'INFERENCE_TIMEOUT') {
      this.safeUntil = -1;
    }
    if (!due && !raisesMode && !latches) { this.suppressed.set(e.type, (this.suppressed.get(e.type) ?? 0) + 1); return; }
    // The rate limit spares repeats only: a failure that changes the mode or
    // latches the lockdown always gets its incident (the runbook sends an
    // operator who sees a non-NORMAL mode to failures/).
    const id = randomUUID();
    const details: Record<string, unknown> = { detail: e.detail, agent_id: e.agent_id ?? null, cycle_id: e.cycle_id ?? null };
    this.last.set(e.type, now);
    const suppressed = this.suppressed.get(e.type) ?? 0;
    this.suppressed.delete(e.type);
    if (suppressed) details.similar_events_since_last_incident = suppressed;
    this.d.control().system({
      type: 'FAILURE', failure: { type: e.type, detail: e.detail.slice(0, 500), incident_id: id },
      mode: rule.mode ?? null, lockdown: rule.lockdown === true, cancel_canary: false,
    });
    this.write(id, e.type, now, details, e);
  };

  private write(id: string, type: FailureType, at: number, details: Record<string, unknown>, e: FailureEvent | null): void {
    const s = this.d.control().state;
    const mode = s.lockdown.active ? 'LOCKDOWN' : s.failure.mode;
    this.pending++;
    this.chain = this.chain.then(async () => {
      const report = await writeIncident(this.d.failuresDir, this.d.audit, at, {
        id, type, severity: CONTAIN[type].severity, mode, details, capture: e?.capture, config: this.d.engine.config,
      });
      this.written.push(report);
    }).catch((err: Error) => {
      // An incident the disk refused is a disk failure like any other write:
      // READ_ONLY_DISK, its CRITICAL alert, and the count in failure_status.
      this.writeErrors++;
      this.lastWriteError = `incident ${id} (${type}) not written: ${err.message}`;
      this.diskError(err);
    }).finally(() => { this.pending--; });
  }

  /** A write to the data directory failed: READ_ONLY_DISK (kept in memory: the disk may not take it). */
  diskError = (err: Error): void => {
    if (this.d.control().readOnly) return;
    this.handle({ type: 'DISK_FULL', detail: err.message });
  };

  /**
   * A containment decided outside a cycle (canary abort, automatic
   * rollback): in effect now; its incident gets the snapshot of the next
   * cycle served, or none if no cycle comes within a second.
   */
  private containNow(type: 'CANARY_ABORT' | 'AUTO_ROLLBACK', detail: string, details: Record<string, unknown>): void {
    const id = randomUUID();
    const control = this.d.control();
    const done = type === 'CANARY_ABORT'
      ? control.system({ type: 'FAILURE', failure: { type, detail, incident_id: id }, mode: null, lockdown: false, cancel_canary: true })
      : control.system({ type: 'AUTO_ROLLBACK', detail, incident_id: id });
    if (!done) return;
    // One incident waits for a snapshot at a time: an earlier one is written now, without it.
    const prev = this.awaiting;
    if (prev) { this.awaiting = null; this.pending--; this.write(prev.id, prev.type, prev.at, prev.details, null); }
    this.last.set(type, this.d.clock());
    this.awaiting = { id, type, detail, at: this.d.clock(), details: { detail, ...details } };
    this.pending++; // HEARTBEAT says incident_pending from the moment the state names the incident
    this.d.engine.captureNext(type, detail);
  }

  /** Periodic: alerts that raise failures, the canary's automatic abort, the watch, the end of a timeout's SAFE_MODE. */
  tick(): void {
    const eng = this.d.engine;
    const control = this.d.control();
    const s = control.state;
    const aw = this.awaiting;
    if (aw && this.d.clock() - aw.at > 1000) { this.awaiting = null; this.pending--; this.write(aw.id, aw.type, aw.at, aw.details, null); }
    if (s.canary_ratio > 0 && s.candidate && !s.lockdown.active) {
      const c = canaryWorse(eng.arms, this.d.config.alerts);
      if (c.worse) {
        this.containNow('CANARY_ABORT', c.detail!, { candidate: s.candidate.version, rule: this.d.config.alerts.canary_rule, arms: eng.arms.snapshot() });
      }
    }
    if (s.watch && !s.lockdown.active) {
      if (eng.arms.cycles >= s.watch.cycles) {
        control.system({ type: 'WATCH_ENDED' });
      } else {
        const v = watchVerdict(eng, this.d.gate);
        if (v.rollback) {
          this.containNow('AUTO_ROLLBACK', v.reason, { promoted: s.watch.promoted, previous: s.watch.previous, forced: s.watch.forced, criteria: v.criteria, arms: eng.arms.snapshot() });
        }
      }
    }
    const w = eng.monitor.snapshot();
    const a = evaluateAlerts(w, this.d.config.alerts);
    for (const alert of a.alerts) {
      if (alert.failure && s.failure.mode === 'NORMAL' && !s.lockdown.active) eng.captureNext(alert.failure, alert.message);
    }
    if (this.safeUntil >= 0 && eng.stats.cycles >= this.safeUntil) {
      this.safeUntil = -1;
      control.system({ type: 'SAFE_MODE_EXPIRED' }, 'system:safe-mode-cooldown');
    }
  }

  /** Waits for the incident files under way; an incident still waiting for a cycle's snapshot is written without one. */
  async drain(): Promise<void> {
    const aw = this.awaiting;
    if (aw) { this.awaiting = null; this.pending--; this.write(aw.id, aw.type, aw.at, aw.details, null); }
    await this.chain;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
