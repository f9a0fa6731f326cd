// The canary's automatic abort, checked again and again while a canary runs.
// A canary that is as good as production should almost never be aborted; one
// that is clearly worse should be aborted soon. Persistent agents, each with
// its own risk, in sticky arms as the engine draws them; the abort is checked
// every `lookEvery` cycles, as the sidecar's containment tick does (every
// 200 ms: 400 cycles at 2,000 cycles/s).
//
// The evidence is the engine's own (src/engine/arms.ts) and the rule the
// real canaryWorse (src/monitor/alerts.ts); only the world is simulated.
// Deterministic by seed.
import { Arms, ARM_CANARY, ARM_INCUMBENT, type AgentTallies } from '../engine/arms.js';
import { canaryWorse, DEFAULT_ALERTS, type AlertConfig } from '../monitor/alerts.js';
import { DEFAULT_GATE } from '../control/gate.js';
import { mix32, unit } from '../kernel/reference.js';

export interface AbortSimOptions {
  seeds: number;
  /** Cycles of canary per run (all agents; each cycle is one agent's, drawn uniformly). */
  horizon: number;
  lookEvery: number;
  canaryRatio: number;
  agents: number;
  /** Each agent's rates are the policy's × (1 + u × spread), u drawn once per agent uniform in [−1, 1] (clamped to [0, 1]). */
  spread: number;
  incumbentDeath: number;
  candidateDeath: number;
  incumbentViolation: number;
  candidateViolation: number;
  /** 'window': the rule before (a one-sided z-test on the arms' last 1,000 outcomes, at every look); 'sequence': the mixture sequential probability ratio test (alerts.ts). */
  rule: AlertConfig['canary_rule'];
}

export interface AbortSimResult {
  options: AbortSimOptions;
  runs: number;
  aborts: number;
  abort_rate: number;
  /** Median canary-phase cycles (all arms) until the abort, over the runs aborted. */
  median_cycles_to_abort: number | null;
}

export function simulateAbort(o: AbortSimOptions): AbortSimResult {
  const alerts: AlertConfig = { ...DEFAULT_ALERTS, canary_rule: o.rule };
  let aborts = 0, runs = 0;
  const when: number[] = [];
  for (let seed = 0; seed < o.seeds; seed++) {
    let draw = 0;
    const rnd = () => unit(mix32(0x5ab0 + seed, draw++, 47));
    const offset = Array.from({ length: o.agents }, () => 2 * rnd() - 1);
    const inCanary = Array.from({ length: o.agents }, () => rnd() < o.canaryRatio);
    if (!inCanary.includes(true)) continue;
    runs++;
    const arms = new Arms(1000, DEFAULT_GATE.alpha, 10, true);
    const holders = Array.from({ length: o.agents }, () => ({ tallies: null as AgentTallies | null }));
    const seen = new Set<number>();
    for (let t = 1; t <= o.horizon; t++) {
      const j = Math.floor(rnd() * o.agents);
      const c = inCanary[j];
      const arm = c ? ARM_CANARY : ARM_INCUMBENT;
      const k = 1 + offset[j] * o.spread;
      const pd = Math.min(1, Math.max(0, (c ? o.candidateDeath : o.incumbentDeath) * k));
      const pv = Math.min(1, Math.max(0, (c ? o.candidateViolation : o.incumbentViolation) * k));
      const dead = rnd() < pd, viol = rnd() < pv;
      arms.served(arm, 1, !seen.has(j), true);
      seen.add(j);
      arms.outcome(arm, !dead, viol, dead ? -5 : 0.05, holders[j]);
      if (t % o.lookEvery !== 0) continue;
      if (canaryWorse(arms, alerts).worse) { aborts++; when.push(t); break; }
    }
  }
  when.sort((a, b) => a - b);
  return { options: o, runs, aborts, abort_rate: runs ? aborts / runs : 0, median_cycles_to_abort: when.length ? when[Math.floor(when.length / 2)] : null };
}
