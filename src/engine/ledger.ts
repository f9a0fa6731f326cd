// The outcome a cycle reports for its agent's previous decision, booked
// before the batch goes to the kernel: the engine's counts, the monitor's
// windows, the evidence of the arm whose policy made that decision, the
// candidate's shadow figures, and quarantine for what may not be learned.
import type { EngineConfig } from './config.js';
import type { Pending } from './pending.js';
import type { EngineStats } from './stats.js';
import type { Monitor } from '../monitor/metrics.js';
import type { Arms } from './arms.js';
import type { ShadowStats } from './shadow.js';
import { NO_ARM } from './arms.js';
import { candidatePropensity, REASON_FAILURE_TYPE, type Closing, type QuarantineSink } from './experience.js';
import { rawReward, clipReward, type Outcome } from './reward.js';

export interface LedgerDeps {
  config: EngineConfig;
  stats: EngineStats;
  monitor: Monitor;
  arms: Arms;
  quarantine: QuarantineSink;
  clock: () => number;
  /** The outcome closeExperience just filled (the engine's scratch). */
  outcome: Outcome;
  /** The candidate's shadow figures (replaced when the candidate changes). */
  shadow: () => ShadowStats;
  candEpoch: () => number;
}

export class Ledger {
  constructor(private readonly d: LedgerDeps) {}

  /** Counts outcomes and sends invalid experiences to quarantine (before learning). */
  account(p: Pending, c: Closing): void {
    const d = this.d, o = d.outcome;
    if (c.kind === 'none') return;
    if (c.kind === 'quarantine') {
      d.stats.quarantined++;
      d.quarantine.put({
        reason: c.reason, agent_id: p.agentId, cycle_id: p.cycleId, prev_cycle_id: p.stream.prev?.cycleId ?? null,
        at: d.clock(), intent_taken: p.intentTaken, result: p.result, ...(c.detail ? { detail: c.detail } : {}),
      });
      (p.failures ??= []).push({ type: REASON_FAILURE_TYPE[c.reason], detail: c.reason, agent_id: p.agentId, cycle_id: p.cycleId });
      if (c.reason === 'MALFORMED_RESULT' || c.reason === 'HOSTILE_PAYLOAD') return;
    }
    d.stats.outcome(o.alive, o.violation);
    const reward = c.kind === 'learn' ? c.reward : c.kind === 'quarantine' && c.reason === 'REWARD_INVARIANT' ? null : clipReward(rawReward(o, d.config.reward), d.config.reward);
    // The arm of the decision this outcome closes, if it was drawn under the
    // current arms (new arms — a new candidate, a canary started, a watch —
    // take no outcome of decisions made before them).
    const prev = p.stream.prev;
    // No decision of this sidecar to close (a restart, an evicted stream): evidence about no arm.
    const prevArm = prev && prev.armEpoch === d.arms.epoch ? prev.arm : NO_ARM;
    d.monitor.outcome(o.alive, o.violation, reward);
    // Evidence of an arm only when its own policy made the decision (settle.ts, NO_ARM).
    if (prevArm >= 0) d.arms.outcome(prevArm, o.alive, o.violation, reward, p.stream);
    if (c.kind === 'learn') {
      const closed = c.prev;
      if (!closed.byCandidate) d.shadow().onPolicy(c.reward);
      if (closed.candEpoch === d.candEpoch() && closed.candGreedy >= 0) {
        d.shadow().offPolicy(c.reward, candidatePropensity(closed, c.action), c.propensity);
      }
    }
  }
}
