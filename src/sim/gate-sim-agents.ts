// The gate when agents differ: persistent agents, each with its own risk
// (a bot with its own map, a robot with its own wear), in sticky arms drawn as
// the engine draws them. The confidence sequences treat an arm's outcomes as
// one stream; when the canary arm holds a few agents who are by themselves
// safer than average, that stream is easier than the policy's true rate, and a
// worse candidate can look fine. How often does a candidate worse by the
// margin pass, with how many agents and how much spread between them?
//
// The evidence is the engine's own (src/engine/arms.ts: confidence sequences
// widened for outcomes clustered by agent) and the verdict the real
// evaluateGate; only the world is simulated. Deterministic by seed.
import { Arms, ARM_CANARY, ARM_INCUMBENT, type AgentTallies } from '../engine/arms.js';
import { evaluateGate, DEFAULT_GATE, type GateConfig, type GateFigures } from '../control/gate.js';
import { mix32, unit } from '../kernel/reference.js';

export interface AgentSimOptions {
  seeds: number;
  /** Cycles per run (all agents; each cycle is one agent's, drawn uniformly). */
  horizon: number;
  askEvery: number;
  canaryRatio: number;
  /** Persistent agents. */
  agents: number;
  /** Each agent's death rate is the policy's plus a fixed offset uniform in [-spread, spread] (clamped to [0, 1]). */
  spread: number;
  /** The policies' death rates (the candidate's is worse by the margin in a false-pass test). */
  incumbentDeath: number;
  candidateDeath: number;
  gate?: Partial<GateConfig>;
  /** false: the arms' bounds as if outcomes were independent (what the engine did before it widened them). */
  clustered?: boolean;
}

export interface AgentSimResult {
  options: AgentSimOptions;
  pass_rate: number;
  passes: number;
  runs: number;
  /** Runs whose canary arm had no agent at all (the gate cannot pass them). */
  empty_canary_runs: number;
}

export function simulateAgents(o: AgentSimOptions): AgentSimResult {
  const g: GateConfig = { ...DEFAULT_GATE, ...o.gate };
  let passes = 0, empty = 0;
  for (let seed = 0; seed < o.seeds; seed++) {
    let draw = 0;
    const rnd = () => unit(mix32(0xa9e7 + seed, draw++, 43));
    const offset = Array.from({ length: o.agents }, () => (2 * rnd() - 1) * o.spread);
    const inCanary = Array.from({ length: o.agents }, () => rnd() < o.canaryRatio);
    if (!inCanary.includes(true)) { empty++; continue; }
    const arms = new Arms(1000, g.alpha, 10, o.clustered ?? true);
    const holders = Array.from({ length: o.agents }, () => ({ tallies: null as AgentTallies | null }));
    const seen = new Set<number>();
    let passed = false;
    for (let t = 1; t <= o.horizon && !passed; t++) {
      const j = Math.floor(rnd() * o.agents);
      const arm = inCanary[j] ? ARM_CANARY : ARM_INCUMBENT;
      const p = Math.min(1, Math.max(0, (inCanary[j] ? o.candidateDeath : o.incumbentDeath) + offset[j]));
      const dead = rnd() < p;
      arms.served(arm, 1, !seen.has(j), true);
      seen.add(j);
      arms.outcome(arm, !dead, false, dead ? -5 : 0.05, holders[j]);
      if (t % o.askEvery !== 0) continue;
      const f: GateFigures = {
        shadow_sample_size: t, candidate_non_finite: 0, candidate_violation_rate: 0, production_violation_rate: 0,
        canary_ratio: o.canaryRatio, canary: arms.bounds(ARM_CANARY), incumbent: arms.bounds(ARM_INCUMBENT),
        off_policy: { samples: 0, ess: 0, estimate: null, lower: null },
      };
      if (evaluateGate(f, g).pass) passed = true;
    }
    if (passed) passes++;
  }
  return { options: o, pass_rate: passes / o.seeds, passes, runs: o.seeds, empty_canary_runs: empty };
}
