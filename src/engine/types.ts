import type { LoggedDecision } from './experience.js';
import type { ModelParams } from '../kernel/model.js';

// Shapes shared by the engine, the control plane and the transports.

export type PolicySource = 'ML' | 'CANARY_ML' | 'RULES' | 'SAFETY_OVERRIDE' | 'LOCKDOWN' | 'DISASTER_FALLBACK';

/** The failure mode of the control state. The lockdown is a separate latch, so it is not a mode here. */
export type FailureMode = 'NORMAL' | 'SAFE_MODE' | 'SHADOW_LEARNING_PAUSE' | 'TEMPORAL_LOCK' | 'READ_ONLY_DISK';

/** The mode as replies and HEARTBEAT report it: LOCKDOWN while the latch is on, else the failure mode. */
export type ReportedMode = FailureMode | 'LOCKDOWN';

export type FailureType =
  | 'CORRUPTION_NAN' | 'AUDIT_TAMPER' | 'INFERENCE_TIMEOUT' | 'WORKER_CRASH' | 'STALE_STATE'
  | 'TIME_INTEGRITY_VIOLATION' | 'MALFORMED_INPUT' | 'HOSTILE_PAYLOAD' | 'REWARD_INVARIANT' | 'FLOOD'
  | 'SURVIVAL_CRASH' | 'CONTRACT_BREACH' | 'DISK_FULL' | 'CANARY_ABORT' | 'AUTO_ROLLBACK' | 'MODEL_LOAD_FAILURE';

export interface ShadowReply {
  version: string;
  intent: string | null;
  confidence: number;
}

export interface CycleReply {
  status: 'OK';
  cycle_id: number;
  agent_id: string;
  intent: string;
  intent_params: Record<string, never>;
  confidence: number;
  policy_source: PolicySource;
  model_version: string | null;
  fallback_reason: string | null;
  shadow?: ShadowReply;
  failure_mode: ReportedMode;
  /** Probability the serving policy had of choosing this intent (logged for off-policy learning). */
  propensity: number;
  /** True when exploration served another intent than the policy's greedy choice. */
  explored: boolean;
  latency_us: number;
}

export interface ErrorReply {
  status: 'ERROR' | 'REJECTED';
  error: { code: string; message: string };
  agent_id?: string;
}

/**
 * Everything needed to replay one cycle offline and get the same decision:
 * the request, the reply it got, the agent's stream as the cycle found it,
 * the control view, the clock, the kernel's outcome, and the weights of both
 * models as they were when it was decided.
 */
export interface CycleCapture {
  request: Record<string, unknown>;
  reply: CycleReply;
  agent_id: string;
  cycle_id: number;
  clock_ms: number;
  stream_before: { prev: LoggedDecision | null; last_ts: number };
  control: ControlView;
  kernel: 'OK' | 'WORKER_CRASH' | 'INFERENCE_TIMEOUT';
  production: ModelParams | null;
  production_version: string | null;
  candidate: ModelParams | null;
  candidate_version: string | null;
  /** The previous production during a post-promotion watch (absent in older snapshots). */
  holdback?: ModelParams | null;
  holdback_version?: string | null;
}

/** Raised by the engine for the failure manager; the engine has already contained the cycle itself. */
export interface FailureEvent {
  type: FailureType;
  detail: string;
  agent_id?: string;
  cycle_id?: number;
  /** The cycle that raised it, when there is one. */
  capture?: CycleCapture;
}

/**
 * What the engine reads of the control state: a view derived from the one
 * control state (src/control/view.ts), replaced whole on every transition and
 * never written field by field. `version` is the control state's version.
 */
export interface ControlView {
  readonly version: number;
  readonly lockdown: boolean;
  readonly mode: FailureMode;
  readonly canaryRatio: number;
  /** Salt of the per-agent canary draw, fixed when the candidate was set. */
  readonly canarySalt: number;
  /** The post-promotion watch: a holdback arm of agents stays on the previous production. */
  readonly watch: { readonly salt: number; readonly holdbackRatio: number; readonly cycles: number; readonly previous: string | null } | null;
}
