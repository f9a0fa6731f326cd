// Turning one row's kernel output into the served decision: the pure part of
// a cycle after inference. Reads the kernel's output words, the control view
// and the safety verdict; returns what to serve and why.
import {
  OUT_STRIDE, O_PROPOSED, O_CONFIDENCE, O_GREEDY, O_CHOSEN, O_PROPENSITY, O_STATUS, STATUS_OK,
} from '../kernel/layout.js';
import { epsilonGreedy } from '../kernel/reference.js';
import type { Intents } from './intents.js';
import type { RulesPolicy } from './rules-policy.js';
import type { SafetyRules, SafetyVerdict } from './safety.js';
import type { ControlView, PolicySource } from './types.js';
import { ARM_CANARY, ARM_HOLDBACK } from './arms.js';

export interface Served {
  source: PolicySource;
  intent: number;
  greedy: number;
  propensity: number;
  confidence: number;
  reason: string | null;
  /** Which model decided ('hold': the previous production, for the holdback arm of a watch), else null. */
  model: 'prod' | 'cand' | 'hold' | null;
  learnable: boolean;
  sampled: boolean;
}

export interface RowContext {
  control: ControlView;
  verdict: SafetyVerdict;
  /** The rules policy's proposal for this state (computed on arrival). */
  rulesIntent: number;
  cycleId: number;
  /** Set when the cycle itself must be answered STOP (stale, time going backwards). */
  forcedReason: string | null;
  /** The agent's arm (arms.ts): incumbent, canary or holdback. */
  arm: number;
  hasProd: boolean;
  /** A candidate is loaded (its outputs are in the candidate columns). */
  hasCand: boolean;
  /** The previous production is loaded for the holdback arm (its outputs are in the candidate columns). */
  hasHold: boolean;
}

export interface DecisionDeps {
  intents: Intents;
  safety: SafetyRules;
  rules: RulesPolicy;
  epsilon: number;
  seed: number;
  minConfidence: number;
  sampling: boolean;
}

function stop(d: DecisionDeps, source: PolicySource, reason: string): Served {
  const s = d.intents.stop;
  return { source, intent: s, greedy: s, propensity: 1, confidence: 1, reason, model: null, learnable: false, sampled: false };
}

function fromModel(d: DecisionDeps, f: Float32Array, o: number, ctx: RowContext, model: 'prod' | 'cand' | 'hold'): Served {
  const proposed = f[o + O_PROPOSED], greedy = f[o + O_GREEDY];
  let source: PolicySource = model === 'cand' ? 'CANARY_ML' : 'ML';
  let reason: string | null = null;
  if (proposed !== greedy) {
    source = 'SAFETY_OVERRIDE';
    reason = `SAFETY_RULE:${d.safety.forbiddenBy(ctx.verdict, proposed) ?? 'unknown'}`;
  }
  return {
    source, intent: f[o + O_CHOSEN], greedy, propensity: f[o + O_PROPENSITY], confidence: f[o + O_CONFIDENCE],
    reason, model, learnable: true, sampled: d.sampling,
  };
}

function fromRules(d: DecisionDeps, ctx: RowContext, reason: string): Served {
  const mask = ctx.verdict.mask;
  const proposed = ctx.rulesIntent;
  let greedy = proposed, source: PolicySource = 'RULES', why = reason;
  if (!((mask >>> proposed) & 1)) {
    greedy = ctx.verdict.pref >= 0 ? ctx.verdict.pref : (mask >>> d.intents.stop) & 1 ? d.intents.stop : 31 - Math.clz32(mask & -mask);
    source = 'SAFETY_OVERRIDE';
    why = `SAFETY_RULE:${d.safety.forbiddenBy(ctx.verdict, proposed) ?? 'unknown'}`;
  }
  const pick = epsilonGreedy(mask, greedy, d.epsilon, d.seed, ctx.cycleId);
  return { source, intent: pick.intent, greedy, propensity: pick.propensity, confidence: pick.propensity, reason: why, model: null, learnable: true, sampled: false };
}

/**
 * The served decision of a row whose batch the kernel answered.
 * Order of precedence: lockdown, a forced STOP for this cycle, the canary
 * arm, SAFE_MODE, the holdback arm, a corrupt production output, production,
 * the rules policy.
 */
export function decideRow(d: DecisionDeps, f: Float32Array, prodOut: number, candOut: number, row: number, ctx: RowContext): Served {
  if (ctx.control.lockdown) return stop(d, 'LOCKDOWN', 'LOCKDOWN');
  if (ctx.forcedReason) return stop(d, 'DISASTER_FALLBACK', ctx.forcedReason);
  if (ctx.control.mode === 'TEMPORAL_LOCK') return stop(d, 'DISASTER_FALLBACK', 'TEMPORAL_LOCK');
  const po = prodOut + row * OUT_STRIDE, co = candOut + row * OUT_STRIDE;
  const safe = ctx.control.mode === 'SAFE_MODE';
  if (ctx.arm === ARM_CANARY && !safe && ctx.hasCand && f[co + O_STATUS] === STATUS_OK) return fromModel(d, f, co, ctx, 'cand');
  if (safe) return fromRules(d, ctx, 'SAFE_MODE');
  if (ctx.arm === ARM_HOLDBACK) {
    // The watch's control arm: the previous production decides, or the rules
    // when they were what served before the promotion.
    if (ctx.hasHold && f[co + O_STATUS] === STATUS_OK) return fromModel(d, f, co, ctx, 'hold');
    if (ctx.control.watch && ctx.control.watch.previous === null) return fromRules(d, ctx, 'HOLDBACK_RULES');
  }
  if (ctx.hasProd) {
    if (f[po + O_STATUS] !== STATUS_OK) return stop(d, 'DISASTER_FALLBACK', 'CORRUPTION_NAN');
    if (f[po + O_CONFIDENCE] >= d.minConfidence) return fromModel(d, f, po, ctx, 'prod');
    return fromRules(d, ctx, 'LOW_CONFIDENCE');
  }
  return fromRules(d, ctx, 'NO_PRODUCTION_MODEL');
}

/** Every row of a batch the kernel did not answer (worker crash, time budget). */
export function fallbackRow(d: DecisionDeps, ctx: RowContext, failure: string): Served {
  if (ctx.control.lockdown) return stop(d, 'LOCKDOWN', 'LOCKDOWN');
  return stop(d, 'DISASTER_FALLBACK', failure);
}
