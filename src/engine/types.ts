// Shapes shared by the engine, the control plane and the transports.

export type PolicySource = 'ML' | 'CANARY_ML' | 'RULES' | 'SAFETY_OVERRIDE' | 'LOCKDOWN' | 'DISASTER_FALLBACK';

export type FailureMode = 'NORMAL' | 'SAFE_MODE' | 'SHADOW_LEARNING_PAUSE' | 'TEMPORAL_LOCK' | 'READ_ONLY_DISK' | 'LOCKDOWN';

export type FailureType =
  | 'CORRUPTION_NAN' | 'AUDIT_TAMPER' | 'INFERENCE_TIMEOUT' | 'WORKER_CRASH' | 'STALE_STATE'
  | 'TIME_INTEGRITY_VIOLATION' | 'MALFORMED_INPUT' | 'HOSTILE_PAYLOAD' | 'REWARD_INVARIANT' | 'FLOOD'
  | 'SURVIVAL_CRASH' | 'CONTRACT_BREACH' | 'DISK_FULL';

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
  failure_mode: FailureMode;
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

/** Raised by the engine for the failure manager; the engine has already contained the cycle itself. */
export interface FailureEvent {
  type: FailureType;
  detail: string;
  agent_id?: string;
  cycle_id?: number;
}

/** What the control plane tells the engine. */
export interface EngineControl {
  lockdown: boolean;
  mode: FailureMode;
  canaryRatio: number;
  /** Learning paused by an operator or a failure mode (lockdown freezes it regardless). */
  learningPaused: boolean;
}
