// Settlement: what a batch's answer becomes. Learning counts and failures of
// the batch, then for every row: the agent's arm, the served decision
// (decision.ts), the shadow figures, the arm figures, the logged decision
// that the agent's next cycle will close, the reply, and the failures this
// cycle raised (with the capture an incident replays).
//
// The engine's mutable parts (the resident models, the control view, the
// shadow statistics, the candidate epoch) are read through functions, once
// per batch or row, so this module never holds a stale copy of them.
import type { EngineConfig } from './config.js';
import { OUT_STRIDE, O_STATUS, O_GREEDY, O_PROPOSED, O_CONFIDENCE, STATUS_OK } from '../kernel/layout.js';
import type { BatchSlot } from './batch-slot.js';
import { attach, type Pending, type VectorPool } from './pending.js';
import type { KernelPool } from '../pool/pool.js';
import type { BatchOutcome } from '../pool/messages.js';
import type { Intents } from './intents.js';
import { type Arms, agentUnit, ARM_INCUMBENT, ARM_CANARY, ARM_HOLDBACK, NO_ARM } from './arms.js';
import { decideRow, fallbackRow, type DecisionDeps, type RowContext, type Served } from './decision.js';
import { snapshotResident, type ResidentModel } from './models.js';
import type { EngineStats } from './stats.js';
import type { ShadowStats } from './shadow.js';
import type { Monitor } from '../monitor/metrics.js';
import type { CycleCapture, CycleReply, ControlView, FailureEvent } from './types.js';

export interface Residents {
  prod: ResidentModel | null;
  cand: ResidentModel | null;
  hold: ResidentModel | null;
}

export interface SettleDeps {
  config: EngineConfig;
  intents: Intents;
  deps: DecisionDeps;
  stats: EngineStats;
  monitor: Monitor;
  arms: Arms;
  pool: KernelPool;
  slot: BatchSlot;
  features: VectorPool;
  /** Per experience row of the batch in flight: 0 an outcome, 1 safety shaping. */
  expKind: Uint8Array;
  onFailure: (e: FailureEvent) => void;
  wantsCapture: (t: FailureEvent['type']) => boolean;
  residents: () => Residents;
  view: () => ControlView;
  shadow: () => ShadowStats;
  candEpoch: () => number;
}

/**
 * Whether the arm's own policy made this decision: the candidate for the
 * canary arm, the previous production (or the rules it stood for) for the
 * holdback arm, production or the rules for the incumbent arm. A lockdown,
 * SAFE_MODE or a failure's STOP serves every arm alike; counting those
 * outcomes would pull the arms' evidence together and hide a difference.
 */
function decidedByArm(arm: number, sv: Served, hasProd: boolean): boolean {
  if (sv.source === 'LOCKDOWN' || sv.source === 'DISASTER_FALLBACK') return false;
  if (arm === ARM_CANARY) return sv.model === 'cand';
  if (arm === ARM_HOLDBACK) return sv.model === 'hold' || sv.reason === 'HOLDBACK_RULES';
  // SAFE_MODE's rules are the incumbent's own policy only when no production model is set.
  return sv.model === 'prod' || (sv.model === null && (sv.reason !== 'SAFE_MODE' || !hasProd));
}

export class Settler {
  constructor(private readonly d: SettleDeps) {}

  /** Settles a batch the kernel answered (or failed): learning counts, failures, then every row's decision and reply. */
  settle(rows: Pending[], outcome: BatchOutcome, nExp: number, hasProd: boolean, hasCand: boolean): void {
    const d = this.d;
    // The models of this batch, read once: swaps run between batches.
    const res = d.residents();
    const { cand, hold } = res;
    const m = d.pool.kernel.views();
    const s = d.slot;
    d.stats.batch(rows.length, outcome.micros);
    if (outcome.ok) {
      if (nExp > 0) {
        for (let i = 0; i < nExp; i++) {
          const ok = s.expApplied(m, i);
          if (!ok) d.stats.updatesRejected++;
          else if (d.expKind[i] === 0) d.stats.learningUpdates++;
          else d.stats.shapingUpdates++;
        }
        if (outcome.result.updBad > 0) {
          attach(rows[0], 'CORRUPTION_NAN', `${outcome.result.updBad} candidate update(s) would have made a weight non-finite; weights kept`);
        }
      }
      if (outcome.result.prodBad > 0) {
        const row = rows.findIndex((_, i) => m.f[(s.prodOut >> 2) + i * OUT_STRIDE + O_STATUS] !== STATUS_OK);
        attach(rows[Math.max(0, row)], 'CORRUPTION_NAN', `${outcome.result.prodBad} production output(s) not finite`);
      }
    } else {
      attach(rows[0], outcome.failure, `${outcome.error}; ${rows.length} cycle(s) answered by the safe fallback`);
      if (cand && d.pool.kernel.exports.checkFinite(cand.ptr) !== 1) {
        attach(rows[0], 'CORRUPTION_NAN', 'candidate weights not finite after an interrupted batch');
      }
    }
    const f = m.f, po = s.prodOut >> 2, co = s.candOut >> 2;
    // The candidate (or holdback model) of this batch: the one loaded when it
    // was dispatched (model swaps run between batches, so it is still loaded).
    const isCand = hasCand && cand !== null, isHold = hasCand && hold !== null;
    for (let i = 0; i < rows.length; i++) {
      const p = rows[i];
      // The view of this row: containment in an earlier row's finish() may
      // have changed it (a lockdown latched mid-batch is STOP for the rest).
      const v = d.view();
      const arm = this.armOf(p, v, isCand);
      const ctx: RowContext = {
        control: v, verdict: p.verdict, rulesIntent: p.rulesIntent, cycleId: p.cycleId, forcedReason: p.forcedReason,
        arm, hasProd, hasCand: isCand, hasHold: isHold,
      };
      const served = outcome.ok ? decideRow(d.deps, f, po, co, i, ctx) : fallbackRow(d.deps, ctx, outcome.failure);
      const shadow = outcome.ok && isCand ? this.shadowOf(f, co, po, i, served, p, hasProd, cand!.version) : undefined;
      this.finish(p, served, shadow, outcome.ok && isCand && f[co + i * OUT_STRIDE + O_STATUS] === STATUS_OK ? f[co + i * OUT_STRIDE + O_GREEDY] : -1,
        outcome.ok ? 'OK' : outcome.failure, arm, res);
    }
  }

  /** The agent's arm under the current view: the holdback draw during a watch, else the canary draw. */
  private armOf(p: Pending, v: ControlView, hasCand: boolean): number {
    const w = v.watch;
    const salt = w ? w.salt : v.canarySalt;
    const ratio = w ? w.holdbackRatio : hasCand ? v.canaryRatio : 0;
    if (ratio <= 0) return ARM_INCUMBENT;
    const st = p.stream;
    if (st.unitSalt !== salt) { st.unit = agentUnit(salt, p.agentId); st.unitSalt = salt; }
    return st.unit < ratio ? (w ? ARM_HOLDBACK : ARM_CANARY) : ARM_INCUMBENT;
  }

  private shadowOf(f: Float32Array, co: number, po: number, i: number, served: Served, p: Pending, hasProd: boolean, version: string): CycleReply['shadow'] {
    const d = this.d, shadow = d.shadow();
    const o = co + i * OUT_STRIDE;
    const ok = f[o + O_STATUS] === STATUS_OK;
    const intent = ok ? f[o + O_GREEDY] : -1;
    const mask = p.verdict.mask;
    if (ok) d.monitor.shadow(intent === served.intent);
    if (ok) shadow.row(intent === served.intent, !((mask >>> f[o + O_PROPOSED]) & 1));
    else shadow.candidateNonFinite++;
    // The incumbent's proposal: production's own argmax, or the rules policy's.
    const pr = po + i * OUT_STRIDE;
    const incumbent = hasProd ? (f[pr + O_STATUS] === STATUS_OK ? f[pr + O_PROPOSED] : -1) : p.rulesIntent;
    if (incumbent >= 0) shadow.incumbentProposal(!((mask >>> incumbent) & 1));
    return { version, intent: ok ? d.intents.names[intent] : null, confidence: ok ? f[o + O_CONFIDENCE] : 0 };
  }

  private finish(p: Pending, sv: Served, shadow: CycleReply['shadow'], candGreedy: number, kernel: CycleCapture['kernel'], arm: number, res: Residents): void {
    const d = this.d;
    const { prod, cand, hold } = res;
    const ctl = d.view();
    const evidential = decidedByArm(arm, sv, prod !== null);
    // The stream as this cycle found it, for an incident's snapshot; taken
    // only when the cycle raised a failure.
    const before = p.failures ? { prev: p.prevAtDispatch ? { ...p.prevAtDispatch, features: p.prevAtDispatch.features.slice() } : null, last_ts: p.lastTsBefore } : null;
    // The decision this one replaces is closed (its experience was written to
    // the kernel at dispatch): its feature vector goes back to the pool.
    if (p.stream.prev) d.features.release(p.stream.prev.features);
    p.stream.prev = {
      cycleId: p.cycleId, features: p.features, served: sv.intent, greedy: sv.greedy, mask: p.verdict.mask,
      epsilon: d.config.exploration.epsilon, propensity: sv.propensity, sampled: sv.sampled, learnable: sv.learnable,
      candGreedy, candEpoch: d.candEpoch(), byCandidate: sv.model === 'cand', arm: evidential ? arm : NO_ARM, armEpoch: d.arms.epoch,
    };
    const latency = Math.round((performance.now() - p.t0) * 1000);
    const st = p.stream, bit = 1 << arm;
    if (st.armEpoch !== d.arms.epoch) { st.armEpoch = d.arms.epoch; st.armMask = 0; }
    d.arms.served(arm, latency, (st.armMask & bit) === 0, evidential);
    st.armMask |= bit;
    d.stats.served(sv.source, sv.intent, latency, sv.model === 'cand');
    d.monitor.served(sv.intent, latency, sv.model ? sv.confidence : null);
    const reply: CycleReply = {
      status: 'OK', cycle_id: p.cycleId, agent_id: p.agentId, intent: d.intents.names[sv.intent], intent_params: {},
      confidence: sv.confidence, policy_source: sv.source,
      model_version: sv.model === 'prod' ? prod?.version ?? null : sv.model === 'cand' ? cand?.version ?? null : sv.model === 'hold' ? hold?.version ?? null : null,
      fallback_reason: sv.reason, failure_mode: ctl.lockdown ? 'LOCKDOWN' : ctl.mode,
      propensity: sv.propensity, explored: sv.intent !== sv.greedy, latency_us: latency,
    };
    if (shadow) reply.shadow = shadow;
    if (p.failures && p.failures.some((f) => d.wantsCapture(f.type))) {
      const capture: CycleCapture = {
        request: p.raw, reply: { ...reply }, agent_id: p.agentId, cycle_id: p.cycleId, clock_ms: p.clockMs, stream_before: before!,
        control: ctl, kernel, production: prod ? snapshotResident(d.pool, prod) : null,
        production_version: prod?.version ?? null,
        candidate: cand ? snapshotResident(d.pool, cand) : null, candidate_version: cand?.version ?? null,
        holdback: hold ? snapshotResident(d.pool, hold) : null, holdback_version: hold?.version ?? null,
      };
      for (const f of p.failures) d.onFailure({ ...f, capture });
    } else if (p.failures) {
      for (const f of p.failures) d.onFailure(f);
    }
    // Containment runs synchronously in onFailure and may have changed the
    // mode: the reply reports the mode this cycle's own fault caused.
    if (p.failures) { const now = d.view(); reply.failure_mode = now.lockdown ? 'LOCKDOWN' : now.mode; }
    p.resolve(reply);
  }

}
