// The failure manager: every failure type of the DESIGN taxonomy mapped to
// its containment, and an incident report for each (rate-limited per type).
// It reacts synchronously where safety needs it (the engine's control view
// changes before the next cycle), then makes the change durable and audited
// through the control plane, then writes the incident.
//
//   CORRUPTION_NAN, AUDIT_TAMPER      lockdown (latched) + incident
//   INFERENCE_TIMEOUT                 SAFE_MODE for `safe_mode_cycles` cycles, then back to NORMAL (audited)
//   WORKER_CRASH, STALE_STATE, FLOOD  incident (the engine or transport already answered the cycle)
//   TIME_INTEGRITY_VIOLATION          TEMPORAL_LOCK + incident
//   MALFORMED_INPUT, HOSTILE_PAYLOAD,
//   REWARD_INVARIANT                  quarantine (engine); above `quarantine_rate` of the window: SHADOW_LEARNING_PAUSE + incident
//   SURVIVAL_CRASH, CONTRACT_BREACH   SAFE_MODE + incident; the canary ratio goes to 0 when the canary arm is significantly worse
//   DISK_FULL (write errors)          READ_ONLY_DISK: decisions go on, mutations are refused
//
// Apart from the timeout's SAFE_MODE, a mode stays until RESET_FAILURE_STATUS.
import type { Engine } from '../engine/cycle.js';
import type { FailureEvent, FailureType, FailureMode } from '../engine/types.js';
import type { ControlPlane } from '../control/commands.js';
import type { AuditLog } from '../audit/log.js';
import { writeIncident, type IncidentReport } from './incidents.js';
import { evaluateAlerts, canaryWorse, type AlertConfig } from './alerts.js';

export interface FailureConfig {
  /** Incidents of one type at most this often (s); the ones in between are counted into the next. */
  incident_min_interval_s: number;
  /** Cycles of SAFE_MODE after an inference timeout. */
  safe_mode_cycles: number;
  /** Share of cycles quarantined in the window above which learning pauses. */
  quarantine_rate: number;
  alerts: AlertConfig;
}

type Mode = Exclude<FailureMode, 'LOCKDOWN'>;
const RANK: Record<Mode, number> = { NORMAL: 0, SHADOW_LEARNING_PAUSE: 1, SAFE_MODE: 2, READ_ONLY_DISK: 3, TEMPORAL_LOCK: 4 };

interface Rule { mode?: Mode; lockdown?: boolean; severity: IncidentReport['severity'] }
const CONTAIN: Record<FailureType, Rule> = {
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
};
const QUARANTINE_TYPES = new Set<FailureType>(['MALFORMED_INPUT', 'HOSTILE_PAYLOAD', 'REWARD_INVARIANT']);

export class FailureManager {
  readonly written: IncidentReport[] = [];
  /** Incidents not written (disk errors), for HEARTBEAT. */
  writeErrors = 0;
  private readonly last = new Map<FailureType, number>();
  private readonly suppressed = new Map<FailureType, number>();
  private readonly quarantineAt: number[];
  private qi = 0;
  private safeUntil = -1;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  readOnly = false;

  constructor(private readonly d: {
    engine: Engine; control: () => ControlPlane; audit: AuditLog; failuresDir: string; config: FailureConfig; clock: () => number;
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
    if (QUARANTINE_TYPES.has(type)) return this.quarantineRateExceeded(false);
    return this.d.clock() - (this.last.get(type) ?? -Infinity) >= this.d.config.incident_min_interval_s * 1000;
  };

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
    if (QUARANTINE_TYPES.has(e.type) && !this.quarantineRateExceeded(true)) return; // quarantined, under the rate
    const rule = CONTAIN[e.type];
    const eng = this.d.engine.control;
    // Contain first, synchronously: the next cycle already sees it.
    let mode: Mode = eng.mode === 'LOCKDOWN' ? 'NORMAL' : eng.mode;
    if (rule.lockdown) eng.lockdown = true;
    if (rule.mode && RANK[rule.mode] >= RANK[mode]) { mode = rule.mode; eng.mode = mode; }
    if (e.type === 'INFERENCE_TIMEOUT' && mode === 'SAFE_MODE') this.safeUntil = this.d.engine.stats.cycles + this.d.config.safe_mode_cycles;
    if (e.type === 'DISK_FULL') this.readOnly = true;
    const now = this.d.clock();
    const due = now - (this.last.get(e.type) ?? -Infinity) >= this.d.config.incident_min_interval_s * 1000;
    if (!due) { this.suppressed.set(e.type, (this.suppressed.get(e.type) ?? 0) + 1); return; }
    this.last.set(e.type, now);
    const suppressed = this.suppressed.get(e.type) ?? 0;
    this.suppressed.delete(e.type);
    const details: Record<string, unknown> = { detail: e.detail, agent_id: e.agent_id ?? null, cycle_id: e.cycle_id ?? null };
    if (suppressed) details.similar_events_since_last_incident = suppressed;
    this.enqueue(async () => {
      const control = this.d.control();
      if (rule.lockdown && !control.state.lockdown.active) {
        await control.internal({ type: 'EMERGENCY_LOCKDOWN', reason: `${e.type}: ${e.detail}`.slice(0, 500) });
      }
      if (e.type !== 'DISK_FULL') await control.internal({ type: 'FAILURE_MODE', mode, failure: { type: e.type, detail: e.detail } });
      const report = await writeIncident(this.d.failuresDir, this.d.audit, now, {
        type: e.type, severity: rule.severity, mode: eng.lockdown ? 'LOCKDOWN' : mode, details, capture: e.capture, config: this.d.engine.config,
      });
      this.written.push(report);
    });
  };

  /** A write to the data directory failed: READ_ONLY_DISK (kept in memory: the disk may not take it). */
  diskError = (err: Error): void => {
    if (this.readOnly) return;
    this.readOnly = true;
    this.d.engine.control.mode = 'READ_ONLY_DISK';
    this.handle({ type: 'DISK_FULL', detail: err.message });
  };

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch(() => { this.writeErrors++; });
  }

  /** Periodic: alerts that raise failures, the canary's automatic abort, the end of a timeout's SAFE_MODE. */
  tick(): void {
    const eng = this.d.engine;
    const w = eng.monitor.snapshot();
    const a = evaluateAlerts(w, this.d.config.alerts);
    const control = this.d.control();
    if (eng.control.canaryRatio > 0) {
      const c = canaryWorse(w.arms.canary, w.arms.incumbent, this.d.config.alerts);
      if (c.worse) {
        eng.control.canaryRatio = 0;
        const detail = `canary ${c.metric} rate ${c.canary_rate!.toFixed(4)} vs incumbent ${c.incumbent_rate!.toFixed(4)} (z ${c.z!.toFixed(2)} > ${this.d.config.alerts.canary_z})`;
        this.enqueue(async () => { await control.internal({ type: 'SET_CANARY_RATIO', ratio: 0, bypass_safety_cap: false }); });
        eng.captureNext('CANARY_ABORT', detail);
      }
    }
    for (const alert of a.alerts) {
      if (alert.failure && eng.control.mode === 'NORMAL' && !eng.control.lockdown) eng.captureNext(alert.failure, alert.message);
    }
    if (this.safeUntil >= 0 && eng.stats.cycles >= this.safeUntil && eng.control.mode === 'SAFE_MODE' && control.state.failure.last_failure?.type === 'INFERENCE_TIMEOUT') {
      this.safeUntil = -1;
      eng.control.mode = 'NORMAL';
      this.enqueue(async () => { await control.internal({ type: 'FAILURE_MODE', mode: 'NORMAL', failure: null }, 'system:safe-mode-cooldown'); });
    }
  }

  async drain(): Promise<void> {
    await this.chain;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
