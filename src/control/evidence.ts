// The gate's and the watch's figures, read from the engine's running
// evidence (shadow statistics and per-agent arms). The verdicts themselves
// are pure functions of these figures (gate.ts).
import type { Engine } from '../engine/cycle.js';
import { ARM_CANARY, ARM_HOLDBACK, ARM_INCUMBENT } from '../engine/arms.js';
import { evaluateGate, evaluateWatch, type GateConfig, type GateFigures, type GateVerdict, type WatchVerdict } from './gate.js';

export function gateFigures(e: Engine, canaryRatio: number): GateFigures {
  const s = e.shadow;
  const c = s.candidateValue();
  return {
    shadow_sample_size: s.samples,
    candidate_non_finite: s.candidateNonFinite,
    candidate_violation_rate: s.candidateViolationRate,
    production_violation_rate: s.incumbentViolationRate,
    canary_ratio: canaryRatio,
    canary: e.arms.bounds(ARM_CANARY),
    incumbent: e.arms.bounds(ARM_INCUMBENT),
    off_policy: { samples: c.n, ess: c.ess, estimate: c.value, lower: s.candidateValueLower },
  };
}

export function gateVerdict(e: Engine, canaryRatio: number, cfg: GateConfig): GateVerdict {
  return evaluateGate(gateFigures(e, canaryRatio), cfg);
}

export function watchVerdict(e: Engine, cfg: GateConfig): WatchVerdict {
  return evaluateWatch(e.arms.bounds(ARM_INCUMBENT), e.arms.bounds(ARM_HOLDBACK), cfg);
}
