// The HEARTBEAT status (docs/PROTOCOL.md §5), assembled from the parts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../kernel/host.js';
import type { Engine } from '../engine/cycle.js';
import type { Registry } from '../store/registry.js';
import type { ControlState } from '../store/control-state.js';
import type { AuditLog } from '../audit/log.js';
import type { GateVerdict, WatchVerdict } from '../control/gate.js';
import { evaluateAlerts, type Alert, type AlertConfig } from './alerts.js';

let pkgVersion: string | undefined;
export function packageVersion(): string {
  if (!pkgVersion) {
    try {
      pkgVersion = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      pkgVersion = 'unknown';
    }
  }
  return pkgVersion;
}

export interface HeartbeatParts {
  engine: Engine;
  registry: Registry;
  state: ControlState;
  audit: AuditLog;
  auditVerified: boolean;
  /** The promotion gate's verdict on the current evidence (null without a candidate). */
  gate: GateVerdict | null;
  /** The post-promotion watch's verdict (null without a watch). */
  watch: WatchVerdict | null;
  startedAt: number;
  now: number;
  alerts: AlertConfig;
  quarantine: { total: number; byReason: Map<string, number> };
  incidentsWritten: number;
  /** Incidents recorded in the state whose file is not on disk yet. */
  incidentsPending: number;
  /** Incident files the disk refused since start (each also a READ_ONLY_DISK). */
  incidentWriteErrors?: number;
  shed: number;
  /** Alerts raised outside the window metrics (a failing checkpoint). */
  extraAlerts?: Alert[];
  /** Extra monitoring fields (start-up problems). */
  monitoring?: Record<string, unknown>;
}

export function modelStatus(version: string, s: ControlState): string {
  if (s.active?.version === version) return 'PRODUCTION';
  if (s.candidate?.version === version) return 'CANDIDATE';
  if (s.rollback_stack.some((r) => r.version === version)) return 'ROLLBACK_TARGET';
  return 'REGISTERED';
}

export function registryView(reg: Registry, s: ControlState) {
  return reg.list().map((m) => {
    const ref = s.active?.version === m.version ? s.active : s.candidate?.version === m.version ? s.candidate : null;
    const rev = ref ? m.revisions.find((r) => r.revision === ref.revision) ?? m.revisions[m.revisions.length - 1] : m.revisions[m.revisions.length - 1];
    return {
      version: m.version, status: modelStatus(m.version, s), architecture: m.architecture, revision: rev.revision,
      weights_sha256: rev.weights_sha256, created_at: m.created_at, revisions: m.revisions.length,
    };
  });
}

export function heartbeat(p: HeartbeatParts): Record<string, unknown> {
  const e = p.engine, s = p.state, st = e.stats;
  const cv = s.candidate ? e.shadow.candidateValue() : null, pv = s.candidate ? e.shadow.incumbentValue() : null;
  const frozen = s.lockdown.active;
  // One source: the control state (the engine decides by a view of it).
  const mode = s.failure.mode;
  const paused = mode === 'SHADOW_LEARNING_PAUSE' || mode === 'TEMPORAL_LOCK';
  const cycles = Math.max(1, st.cycles);
  const w = e.monitor.snapshotCached();
  const a = evaluateAlerts(w, p.alerts);
  const metrics = {
    window_cycles: w.window,
    cycles: st.cycles,
    cycles_in_window: w.cycles,
    outcomes_in_window: w.outcomes,
    survival_rate: w.survival_rate,
    violation_rate: w.violation_rate,
    reward_mean: w.reward_mean,
    latency_us: w.latency_us,
    latency_us_since_start: st.latencyUs(),
    intent_distribution: w.intent_distribution,
    mean_model_confidence: w.mean_model_confidence,
    evolution: { shadow_sample_size: e.shadow.samples, shadow_agreement_rate: w.shadow_agreement_rate, candidate_version: s.candidate?.version ?? null },
  };
  return {
    status: 'OK',
    version: packageVersion(),
    uptime_s: Math.round((p.now - p.startedAt) / 100) / 10,
    active_model: s.active?.version ?? null,
    active_revision: s.active?.revision ?? null,
    candidate_model: s.candidate?.version ?? null,
    canary_ratio: s.canary_ratio,
    lockdown: { ...s.lockdown },
    learning_state: frozen ? 'FROZEN' : paused ? 'PAUSED' : 'ACTIVE',
    model_registry: registryView(p.registry, s),
    monitoring: { status: p.extraAlerts?.length ? 'CRITICAL' : a.status, alerts: [...a.alerts, ...(p.extraAlerts ?? [])], recommended_mitigation: a.recommended_mitigation, metrics, ...p.monitoring },
    online_ml_metrics: {
      ml_failure_rate: st.bySource.DISASTER_FALLBACK / cycles,
      ml_timeout_rate: e.pool.stats.timeouts / Math.max(1, st.batches),
      shadow_calls: e.shadow.samples + e.shadow.candidateNonFinite,
      shadow_divergence_rate: e.shadow.agreementRate === null ? null : 1 - e.shadow.agreementRate,
      canary_ratio_active: e.view.canaryRatio,
      canary_calls: st.canaryCalls,
      canary_arms: e.arms.snapshotCached(),
      candidate_value_estimate: cv?.value ?? null,
      production_value_estimate: pv?.value ?? null,
      learning_updates: st.learningUpdates,
      quarantined: st.quarantined,
      quarantine_by_reason: Object.fromEntries(p.quarantine.byReason),
      quarantine_total_on_disk: p.quarantine.total,
      shadow_learning_updates: st.shapingUpdates,
      avg_inference_us: st.batches > 0 ? st.kernelMicros / st.batchRows : null,
      promotion_gate: p.gate,
    },
    watch: s.watch ? { ...s.watch, cycles_done: e.arms.cycles, verdict: p.watch } : null,
    audit_metrics: { length: p.audit.length, head_hash: p.audit.headHash, verified: p.auditVerified },
    failure_status: {
      mode: frozen ? 'LOCKDOWN' : mode,
      incident_count: s.failure.incident_count,
      last_failure: s.failure.last_failure,
      incident_pending: p.incidentsPending > 0,
      incident_write_errors: p.incidentWriteErrors ?? 0,
      since: s.failure.since,
      cycles_shed_flood: p.shed,
    },
  };
}
