// The control plane's options (commands, the gate, the watch) and the
// containment's (failures, alerts), their defaults and their validation.
import { SidecarError } from '../errors.js';
import { finite, integer, knownKeys } from '../validate.js';
import { DEFAULT_GATE, type GateConfig } from './gate.js';
import type { WatchConfig } from './lifecycle.js';
import { DEFAULT_ALERTS, type AlertConfig } from '../monitor/alerts.js';

export interface ControlConfig {
  canary_cap: number;
  token_ttl_s: number;
  /** UNRELEASE_LOCKDOWN and forced promotion must be confirmed by another operator. */
  two_person_rule: boolean;
  gate: GateConfig;
  /** The post-promotion watch. */
  watch: WatchConfig;
}

export interface FailureConfig {
  /** Incidents of one type at most this often (s); the ones in between are counted into the next. */
  incident_min_interval_s: number;
  /** Cycles of SAFE_MODE after an inference timeout. */
  safe_mode_cycles: number;
  /** Share of cycles quarantined in the window above which learning pauses. */
  quarantine_rate: number;
  alerts: AlertConfig;
}


export const DEFAULT_CONTROL_CONFIG: ControlConfig = { canary_cap: 0.1, token_ttl_s: 120, two_person_rule: false, gate: DEFAULT_GATE, watch: { cycles: 5000, holdback_ratio: 0.1 } };

export type ControlConfigInput = Partial<Omit<ControlConfig, 'gate' | 'watch'>> & { gate?: Partial<ControlConfig['gate']>; watch?: Partial<ControlConfig['watch']> };

export function controlConfig(input: ControlConfigInput = {}): ControlConfig {
  const d = DEFAULT_CONTROL_CONFIG;
  knownKeys(input, d, 'control', ['gate', 'watch']);
  const c: ControlConfig = { ...d, ...input, gate: { ...d.gate, ...input.gate }, watch: { ...d.watch, ...input.watch } };
  finite(c.canary_cap, 'control.canary_cap', 0, 1);
  finite(c.token_ttl_s, 'control.token_ttl_s', 1, 86_400);
  if (typeof c.two_person_rule !== 'boolean') throw new SidecarError('E_CONFIG', 'control.two_person_rule must be true or false');
  integer(c.gate.min_shadow_cycles, 'control.gate.min_shadow_cycles', 0, 1e9);
  finite(c.gate.alpha, 'control.gate.alpha', 1e-6, 0.5);
  finite(c.gate.margin_survival, 'control.gate.margin_survival', 0, 1);
  finite(c.gate.margin_violation, 'control.gate.margin_violation', 0, 1);
  finite(c.gate.margin_reward, 'control.gate.margin_reward', 0, 1e6);
  finite(c.gate.violation_tolerance, 'control.gate.violation_tolerance', 0, 1);
  finite(c.gate.off_policy_min_ess, 'control.gate.off_policy_min_ess', 0, 1e12);
  if (typeof c.gate.off_policy_may_pass !== 'boolean') throw new SidecarError('E_CONFIG', 'control.gate.off_policy_may_pass must be true or false');
  integer(c.watch.cycles, 'control.watch.cycles', 0, 1e12);
  finite(c.watch.holdback_ratio, 'control.watch.holdback_ratio', 0, 0.5);
  return c;
}

export const DEFAULT_FAILURE_CONFIG: FailureConfig = { incident_min_interval_s: 10, safe_mode_cycles: 1000, quarantine_rate: 0.05, alerts: DEFAULT_ALERTS };

export type FailureConfigInput = Partial<Omit<FailureConfig, 'alerts'>> & { alerts?: Partial<AlertConfig> };

export function failureConfig(input: FailureConfigInput = {}): FailureConfig {
  const d = DEFAULT_FAILURE_CONFIG;
  knownKeys(input, d, 'failures', ['alerts']);
  const c: FailureConfig = { ...d, ...input, alerts: { ...d.alerts, ...input.alerts } };
  finite(c.incident_min_interval_s, 'failures.incident_min_interval_s', 0, 86_400);
  integer(c.safe_mode_cycles, 'failures.safe_mode_cycles', 1, 1e9);
  finite(c.quarantine_rate, 'failures.quarantine_rate', 0.0001, 1);
  const a = c.alerts;
  integer(a.min_samples, 'failures.alerts.min_samples', 1, 1e9);
  for (const k of ['survival_warning', 'survival_critical', 'violation_warning', 'violation_critical', 'confidence_collapse', 'intent_dominance', 'shadow_divergence'] as const) finite(a[k], `failures.alerts.${k}`, 0, 1);
  finite(a.p99_budget_us, 'failures.alerts.p99_budget_us', 1, 1e9);
  integer(a.canary_min_samples, 'failures.alerts.canary_min_samples', 1, 1e9);
  finite(a.canary_z, 'failures.alerts.canary_z', 0, 10);
  finite(a.canary_alpha, 'failures.alerts.canary_alpha', 1e-9, 0.5);
  if (a.canary_rule !== 'sequence' && a.canary_rule !== 'window') throw new SidecarError('E_CONFIG', `failures.alerts.canary_rule must be "sequence" or "window" (got ${JSON.stringify(a.canary_rule)})`);
  return c;
}

