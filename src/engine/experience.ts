// Closing an agent's previous cycle into an experience, and the checks that
// decide whether learning may use it. Everything that fails a check goes to
// the quarantine sink with its reason code instead.
import type { Intents } from './intents.js';
import { readOutcome, rawReward, clipReward, type Outcome, type OutcomeProblem, type RewardSpec } from './reward.js';

export type QuarantineReason =
  | 'NO_PREVIOUS_CYCLE'
  | 'UNKNOWN_INTENT'
  | 'INTENT_NOT_OFFERED'
  | OutcomeProblem
  | 'REWARD_INVARIANT';

/** Failure type of the failure taxonomy (docs/ARCHITECTURE.md) that a quarantine reason counts towards. */
export const REASON_FAILURE_TYPE: Record<QuarantineReason, 'MALFORMED_INPUT' | 'HOSTILE_PAYLOAD' | 'REWARD_INVARIANT'> = {
  NO_PREVIOUS_CYCLE: 'MALFORMED_INPUT',
  UNKNOWN_INTENT: 'MALFORMED_INPUT',
  INTENT_NOT_OFFERED: 'MALFORMED_INPUT',
  MALFORMED_RESULT: 'MALFORMED_INPUT',
  HOSTILE_PAYLOAD: 'HOSTILE_PAYLOAD',
  REWARD_INVARIANT: 'REWARD_INVARIANT',
};

export interface QuarantineEntry {
  reason: QuarantineReason;
  agent_id: string;
  cycle_id: number;
  /** The previous cycle this experience would have closed, if any. */
  prev_cycle_id: number | null;
  at: number;
  intent_taken: unknown;
  result: unknown;
  detail?: string;
}

export interface QuarantineSink {
  put(entry: QuarantineEntry): void;
}

/** Keeps the last `cap` entries in memory and counts by reason. */
export class MemoryQuarantine implements QuarantineSink {
  readonly entries: QuarantineEntry[] = [];
  readonly byReason = new Map<QuarantineReason, number>();
  total = 0;
  constructor(private readonly cap = 10_000) {}
  put(e: QuarantineEntry): void {
    this.total++;
    this.byReason.set(e.reason, (this.byReason.get(e.reason) ?? 0) + 1);
    this.entries.push(e);
    if (this.entries.length > this.cap) this.entries.shift();
  }
}

/** What the engine logged about a decision, kept until the agent's next cycle closes it. */
export interface LoggedDecision {
  cycleId: number;
  features: Float32Array;
  served: number;
  greedy: number;
  mask: number;
  epsilon: number;
  /** Propensity of `served` under the logging policy. */
  propensity: number;
  /** Softmax-sampling decisions can only be closed by the intent served. */
  sampled: boolean;
  /** Forced decisions (lockdown, fallbacks) are not the policy's: not learned from. */
  learnable: boolean;
  /** The candidate's greedy choice for this cycle (-1: none), and which candidate that was. */
  candGreedy: number;
  candEpoch: number;
  /** Served by the candidate (canary): not evidence about the incumbent. */
  byCandidate: boolean;
  /** The agent's arm when it was served (arms.ts), where its outcome counts; -1 when the arm's own policy did not decide (a lockdown, SAFE_MODE, a fallback). */
  arm: number;
  /** The arms' epoch when it was served: an outcome closing a decision of older arms is evidence about none of the current ones. */
  armEpoch: number;
}

function popcnt(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v = (v & (v - 1)) >>> 0) n++;
  return n;
}

/**
 * Propensity of `action` under the logging policy of `d`. The agent may have
 * executed another intent than the one served; under epsilon-greedy its
 * probability is known exactly. 0 means the policy could not have chosen it.
 */
export function propensityOf(d: LoggedDecision, action: number): number {
  if (action === d.served) return d.propensity;
  if (d.sampled || !((d.mask >>> action) & 1)) return 0;
  const share = d.epsilon / popcnt(d.mask);
  return action === d.greedy ? 1 - d.epsilon + share : share;
}

/** The candidate's epsilon-greedy probability of `action` for the logged decision `d`. */
export function candidatePropensity(d: LoggedDecision, action: number): number {
  if (d.candGreedy < 0 || !((d.mask >>> action) & 1)) return 0;
  const share = d.epsilon / popcnt(d.mask);
  return action === d.candGreedy ? 1 - d.epsilon + share : share;
}

export type Closing =
  | { kind: 'none' }
  | { kind: 'skip' }
  | { kind: 'quarantine'; reason: QuarantineReason; detail?: string; outcome?: Outcome }
  | { kind: 'learn'; action: number; reward: number; propensity: number; outcome: Outcome; prev: LoggedDecision };

/**
 * Decides what the (intent_taken, result) of a cycle means for learning.
 * `none`: the cycle carries no outcome. `skip`: valid, but the decision it
 * closes was forced, so there is nothing to learn.
 */
export function closeExperience(
  intentTaken: unknown, result: unknown, prev: LoggedDecision | undefined,
  intents: Intents, reward: RewardSpec, outcome: Outcome,
): Closing {
  if (intentTaken === undefined && result === undefined) return { kind: 'none' };
  const problem = readOutcome(result, reward, outcome);
  if (problem) return { kind: 'quarantine', reason: problem };
  const action = intents.index(intentTaken);
  if (action < 0) return { kind: 'quarantine', reason: 'UNKNOWN_INTENT', outcome, detail: `intent_taken ${JSON.stringify(intentTaken)?.slice(0, 64)}` };
  if (!prev) return { kind: 'quarantine', reason: 'NO_PREVIOUS_CYCLE', outcome };
  const raw = rawReward(outcome, reward);
  if (!Number.isFinite(raw) || Math.abs(raw) > reward.bound) return { kind: 'quarantine', reason: 'REWARD_INVARIANT', outcome, detail: `reward ${raw}` };
  if (!prev.learnable) return { kind: 'skip' };
  const p = propensityOf(prev, action);
  if (!(p > 0)) return { kind: 'quarantine', reason: 'INTENT_NOT_OFFERED', outcome, detail: `${intents.names[action]} was not allowed or not sampled` };
  return { kind: 'learn', action, reward: clipReward(raw, reward), propensity: p, outcome, prev };
}
