// The engine's options, their defaults and their validation (the engine owns
// its config; src/config.ts composes the layers). docs/CONFIG.md lists them.
import { SidecarError } from '../errors.js';
import { finite, integer, knownKeys } from '../validate.js';
import { DEFAULT_SCHEMA, type FieldSpec } from './state-schema.js';
import { DEFAULT_INTENTS } from './intents.js';
import { DEFAULT_SAFETY_RULES, type SafetyRuleSpec } from './safety.js';
import { DEFAULT_RULES_POLICY, type RulesPolicySpec } from './rules-policy.js';
import { DEFAULT_REWARD, validateRewardSpec, type RewardSpec } from './reward.js';

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

/** Defaults merged with `input`, every value checked. Structural checks of rules live with their compilers. */
export function engineConfig(input: EngineConfigInput = {}): EngineConfig {
  const d = DEFAULT_ENGINE_CONFIG;
  knownKeys(input, d, 'engine', ['reward', 'learning', 'exploration']);
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

