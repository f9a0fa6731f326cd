// Options, their defaults and their validation. Every option a user can set
// is here, with its default; docs/CONFIG.md lists them.
import { SidecarError } from './errors.js';
import { DEFAULT_SCHEMA, type FieldSpec } from './engine/state-schema.js';
import { DEFAULT_INTENTS } from './engine/intents.js';
import { DEFAULT_SAFETY_RULES, type SafetyRuleSpec } from './engine/safety.js';
import { DEFAULT_RULES_POLICY, type RulesPolicySpec } from './engine/rules-policy.js';
import { DEFAULT_REWARD, validateRewardSpec, type RewardSpec } from './engine/reward.js';

export interface LearningConfig {
  /** SGD step size on normalised features. */
  lr: number;
  l2: number;
  /** Importance weights are min(1/propensity, iw_clip). */
  iw_clip: number;
  /** Gradient norm is clipped to this. */
  grad_clip: number;
  /** Teach the candidate that intents the safety rules forbid cost a violation (see cycle.ts). */
  safety_shaping: boolean;
}

export interface ExplorationConfig {
  /** Share of served decisions drawn uniformly among the allowed intents. */
  epsilon: number;
  /** Softmax temperature for confidence, entropy and softmax sampling. */
  temperature: number;
  mode: 'epsilon-greedy' | 'softmax';
  /** Seed of the rules policy's exploration and of canary routing. */
  seed: number;
}

export interface EngineConfig {
  intents: string[];
  schema: FieldSpec[];
  safety_rules: SafetyRuleSpec[];
  rules_policy: RulesPolicySpec;
  reward: RewardSpec;
  learning: LearningConfig;
  exploration: ExplorationConfig;
  /** Below this production confidence the rules policy decides (0: never). */
  min_confidence: number;
  /** A cycle whose timestamp is older than this many seconds is stale (0: off). */
  stale_after_s: number;
  /** Kernel pool threads (0: kernel on the main thread). */
  pool_threads: number;
  /**
   * A batch its worker has not picked up after this many µs is run by the
   * main thread instead (0: never). Guards against slow thread wake-ups.
   */
  pool_steal_us: number;
  /** Rows per batch at most. */
  max_batch: number;
  /** A batch's time budget in its worker, ms. */
  batch_timeout_ms: number;
  /** Cycles waiting for the kernel at most; beyond, cycles are shed (E_OVERLOADED). */
  max_queue: number;
  /** Agent streams kept (least recently seen evicted beyond). */
  max_agents: number;
  /** Cycles in the sliding windows of rates (shadow proposed-violation rates; monitoring). */
  shadow_window: number;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  intents: [...DEFAULT_INTENTS],
  schema: DEFAULT_SCHEMA,
  safety_rules: DEFAULT_SAFETY_RULES,
  rules_policy: DEFAULT_RULES_POLICY,
  reward: DEFAULT_REWARD,
  learning: { lr: 0.05, l2: 1e-5, iw_clip: 10, grad_clip: 10, safety_shaping: true },
  exploration: { epsilon: 0.05, temperature: 1, mode: 'epsilon-greedy', seed: 0x5eed },
  min_confidence: 0,
  stale_after_s: 2,
  pool_threads: 2,
  pool_steal_us: 250,
  max_batch: 256,
  batch_timeout_ms: 25,
  max_queue: 65_536,
  max_agents: 100_000,
  shadow_window: 1000,
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends Array<unknown> ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type EngineConfigInput = DeepPartial<EngineConfig>;

function finite(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new SidecarError('E_CONFIG', `${name} must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
}

function integer(v: unknown, name: string, lo: number, hi: number): number {
  const n = finite(v, name, lo, hi);
  if (!Number.isInteger(n)) throw new SidecarError('E_CONFIG', `${name} must be an integer`);
  return n;
}

/** Defaults merged with `input`, every value checked. Structural checks of rules live with their compilers. */
export function engineConfig(input: EngineConfigInput = {}): EngineConfig {
  const d = DEFAULT_ENGINE_CONFIG;
  const c: EngineConfig = {
    ...d,
    ...input,
    reward: { ...d.reward, ...input.reward },
    learning: { ...d.learning, ...input.learning },
    exploration: { ...d.exploration, ...input.exploration },
  } as EngineConfig;
  validateRewardSpec(c.reward);
  finite(c.learning.lr, 'learning.lr', 0, 10);
  finite(c.learning.l2, 'learning.l2', 0, 1);
  finite(c.learning.iw_clip, 'learning.iw_clip', 1, 1e6);
  finite(c.learning.grad_clip, 'learning.grad_clip', 1e-6, 1e6);
  if (typeof c.learning.safety_shaping !== 'boolean') throw new SidecarError('E_CONFIG', 'learning.safety_shaping must be true or false');
  finite(c.exploration.epsilon, 'exploration.epsilon', 0, 1);
  finite(c.exploration.temperature, 'exploration.temperature', 1e-3, 1e3);
  if (c.exploration.mode !== 'epsilon-greedy' && c.exploration.mode !== 'softmax') throw new SidecarError('E_CONFIG', 'exploration.mode must be epsilon-greedy or softmax');
  integer(c.exploration.seed, 'exploration.seed', 0, 0xffffffff);
  finite(c.min_confidence, 'min_confidence', 0, 1);
  finite(c.stale_after_s, 'stale_after_s', 0, 1e9);
  integer(c.pool_threads, 'pool_threads', 0, 64);
  finite(c.pool_steal_us, 'pool_steal_us', 0, 1e6);
  integer(c.max_batch, 'max_batch', 1, 4096);
  finite(c.batch_timeout_ms, 'batch_timeout_ms', 1, 60_000);
  integer(c.max_queue, 'max_queue', 1, 10_000_000);
  integer(c.max_agents, 'max_agents', 1, 100_000_000);
  integer(c.shadow_window, 'shadow_window', 10, 1_000_000);
  return c;
}

import { DEFAULT_GATE } from './control/gate.js';
import { DEFAULT_ALERTS, type AlertConfig } from './monitor/alerts.js';
import type { FailureConfig } from './monitor/failures.js';
import type { ControlConfig } from './control/commands.js';

export const DEFAULT_CONTROL_CONFIG: ControlConfig = { canary_cap: 0.1, token_ttl_s: 120, two_person_rule: false, gate: DEFAULT_GATE };

export type ControlConfigInput = Partial<Omit<ControlConfig, 'gate'>> & { gate?: Partial<ControlConfig['gate']> };

export function controlConfig(input: ControlConfigInput = {}): ControlConfig {
  const d = DEFAULT_CONTROL_CONFIG;
  const c: ControlConfig = { ...d, ...input, gate: { ...d.gate, ...input.gate } };
  finite(c.canary_cap, 'control.canary_cap', 0, 1);
  finite(c.token_ttl_s, 'control.token_ttl_s', 1, 86_400);
  if (typeof c.two_person_rule !== 'boolean') throw new SidecarError('E_CONFIG', 'control.two_person_rule must be true or false');
  integer(c.gate.min_shadow_cycles, 'control.gate.min_shadow_cycles', 0, 1e9);
  finite(c.gate.z, 'control.gate.z', 0, 10);
  finite(c.gate.violation_tolerance, 'control.gate.violation_tolerance', 0, 1);
  return c;
}

export const DEFAULT_FAILURE_CONFIG: FailureConfig = { incident_min_interval_s: 10, safe_mode_cycles: 1000, quarantine_rate: 0.05, alerts: DEFAULT_ALERTS };

export type FailureConfigInput = Partial<Omit<FailureConfig, 'alerts'>> & { alerts?: Partial<AlertConfig> };

export function failureConfig(input: FailureConfigInput = {}): FailureConfig {
  const d = DEFAULT_FAILURE_CONFIG;
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
  return c;
}

/** The whole configuration file: `{engine: {...}, control: {...}, failures: {...}, max_cycles_per_s}`. */
export interface SidecarConfigInput {
  engine?: EngineConfigInput;
  control?: ControlConfigInput;
  failures?: FailureConfigInput;
  /** Cycles per second over which cycles are shed with E_FLOOD (default 200,000). */
  max_cycles_per_s?: number;
}
